"""Benchmarks: the emulator alone (``emulator_bench.py``), the operator at scale (``operator_bench.py``) and its
published results (``results.py``)."""
