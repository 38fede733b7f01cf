"""Which watch observations the benchmark's change phases count, on a fabricated watch (no servers)."""

from __future__ import annotations

from typing import Any, cast

from bench.kubeload import EndpointWatch, Timed
from bench.operator_bench import changed_ready_times, update_latencies


def _watch() -> EndpointWatch:
    """A watch that never started: its records are filled in by hand."""
    return EndpointWatch(client=cast(Any, None), namespace="bench")


def test_ready_on_a_config_older_than_the_change_does_not_count() -> None:
    watch = _watch()
    # b0000 was Ready on v1 (convergence), then on v3 (a single change); b0001 only on v1.
    watch.ready_on.update({("b0000", "v1"): 10.0, ("b0000", "v3"): 50.0, ("b0001", "v1"): 11.0})
    before = {"b0000": "v3", "b0001": "v1"}
    # The rolling change starts at 100: b0000's old Ready on v1 is not Ready on its new config.
    assert changed_ready_times(watch, ["b0000", "b0001"], before, since=100.0) == {}
    watch.ready_on.update({("b0000", "v2"): 120.0, ("b0001", "v2"): 125.0})
    assert changed_ready_times(watch, ["b0000", "b0001"], before, since=100.0) == {"b0000": 120.0, "b0001": 125.0}


def test_update_latency_counts_the_first_update_after_the_change_once_per_endpoint() -> None:
    watch = _watch()
    watch.update_seen.update({("b0000", "v3"): 40.0,  # an earlier single change: not this one
                              ("b0000", "v2"): 103.0, ("b0001", "v2"): 104.5})
    watch.update_started_at.update({("b0000", "v2"): "1970-01-01T00:01:42Z", ("b0001", "v2"): ""})
    sent = {"b0000": Timed(100.0, 100.1), "b0001": Timed(101.0, 101.2), "b0002": Timed(101.5, 101.6)}
    observed, stamped = update_latencies(watch, sent, {"b0000": "v1", "b0001": "v1", "b0002": "v1"}, since=100.0)
    assert observed == [3.0, 3.5]  # b0002 not updated yet: no sample
    assert stamped == [2.0]  # startedAt 102 s, whole seconds, from the patch at 100 s
