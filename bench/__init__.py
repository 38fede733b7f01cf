"""Benchmarks: the emulator alone (``emulator_bench.py``) and the operator at scale (``operator_bench.py``)."""
