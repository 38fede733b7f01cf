"""Benchmark the operator at scale: convergence, steady state, rolling change, restart and memory for N endpoints.

Usage (from the repository root)::

    .venv/bin/python -m bench.operator_bench --endpoints 100,500,1000 [--repeat 3] [--out DIR] [--profile] [--publish]

Each run (one N, one repetition) starts a fresh stack as separate processes: etcd + kube-apiserver on loopback,
the SageMaker emulator (``--create-seconds``, ``--update-seconds``; ``--latency-ms`` injected on every AWS call
through its admin API) and ``sagemaker-operator run``. It applies N models, N endpoint configs and N endpoints
(each endpoint its own model and config), then measures in this order:

1. convergence: apply to every endpoint Ready; AWS calls per endpoint by operation (emulator counters);
   Kubernetes writes per object (the operator's ``sagemaker_operator_kubernetes_writes_total``);
2. restart: SIGKILL the operator with N Ready endpoints, start it again; AWS calls (in 5 s buckets) and Kubernetes
   writes in its first ``--restart-seconds``; objects whose resourceVersion / generation changed (API server);
3. steady state: an idle window of ``--steady-seconds``: AWS calls per endpoint per minute, operator CPU;
4. rolling change: every model's image changed at once while a probe invokes a sample of endpoints; time until
   every endpoint is InService on its new config, apply-to-UpdateEndpoint latency, failed invocations;
5. memory: the operator's peak RSS (``VmHWM``) over both of its processes;
6. failover (``--no-failover`` skips it): a standby with the same arguments and lease joins; SIGTERM of the leader
   at the default lease settings (seconds until the standby leads); then two operators at short lease settings
   (``--failover-lease``), a change to a share of the endpoints, SIGKILL of the leader after its first
   UpdateEndpoint: seconds until the standby leads and until every changed endpoint is Ready on its new config,
   and AWS writes beyond one operator's (duplicates).

Steady state runs at a shortened ``--resync-seconds`` (default 60) so that a window of minutes holds several
drift-check rounds; the per-minute rate is also reported projected to the operator's default resync (300 s), as
the rate scales with 1/resync. Writes ``report.json`` and ``chart.png`` into ``--out`` and prints a table; with
``--publish``, also each N's flat record (``bench/results.py``) to ``bench/results/<YYYY-MM-DD>-<N>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import resource
import signal
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(ROOT))

import kubernetes  # noqa: E402
from kubernetes.client import ApiClient  # noqa: E402

from bench.kubeload import EndpointWatch, Objects, Probe, Timed, bulk, manifest, names  # noqa: E402
from bench.results import (  # noqa: E402
    DEFAULT_RESYNC,
    RESULTS_DIR,
    git_commit,
    machine_facts,
    published_record,
    today,
    write_chart,
    write_record,
)
from bench.stack import (  # noqa: E402
    REGION,
    OperatorProcess,
    Stack,
    cpu_seconds,
    proc_status_kb,
    scrape_metrics,
    wait_until,
)
from sagemaker_operator.dev.binaries import (  # noqa: E402
    DEFAULT_KUBERNETES_VERSION,
    VERSION_ENV,
    requested_version,
    resolve_version,
)
from sagemaker_operator.leader import JITTER  # noqa: E402

NAMESPACE = "bench"
KINDS = ("SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint")
INVOKE = "InvokeEndpoint"
CUT = "InternalFailure"  # the emulator's answer to a request whose sender was killed while sending it
# Lease duration, renew deadline, retry period (seconds): the operator's defaults (client-go's), and the short
# settings of the SIGKILL measurement, whose takeover time is the lease duration plus at most one retry.
DEFAULT_LEASE = (15, 10.0, 2.0)
FAILOVER_LEASE = (4, 3.0, 0.5)


@dataclass
class BenchConfig:
    """Everything a run depends on besides N."""

    create_seconds: float = 5.0
    update_seconds: float = 5.0
    latency_ms: float = 30.0
    resync_seconds: float = 60.0
    tag_check_every: int = 1
    restart_seconds: float = 60.0
    steady_seconds: float = 120.0
    rolling: bool = True
    apply_workers: int = 8
    probe_endpoints: int = 20
    single_changes: int = 20
    converge_timeout: float = 900.0
    rolling_timeout: float = 900.0
    operator_args: list[str] = field(default_factory=list)
    profile: bool = False
    failover: bool = True
    failover_lease: tuple[int, float, float] = FAILOVER_LEASE
    failover_share: float = 0.25
    failover_timeout: float = 600.0
    # Artifact tracking of every model (their files put in the emulator's S3); None: off.
    artifact_check_seconds: float | None = None


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered)) - 1))]


def _client(kubeconfig: Path, pool: int) -> ApiClient:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return ApiClient(configuration)


def _operator_calls(counters: Mapping[str, Any]) -> dict[str, int]:
    """AWS calls by operation from the emulator's counters, without the probe's invocations."""
    operations = counters.get("operations") or {}
    return {str(op): int(n) for op, n in sorted(operations.items()) if op != INVOKE}


def _per(values: Mapping[str, float], divisor: float) -> dict[str, float]:
    return {k: round(v / divisor, 3) for k, v in values.items()}


def _diff(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


def _is_write(operation: str) -> bool:
    return not operation.startswith(("Describe", "List", "Get"))


class CpuMeter:
    """CPU seconds of the stack's processes (from /proc) and of the harness itself between two readings."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.harness = self._harness()
        self.wall = time.monotonic()

    @staticmethod
    def _harness() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def read(self) -> dict[str, float]:
        """CPU seconds used since the meter was made, per process, plus ``harness`` and ``wall``."""
        used = {name: round(cpu_seconds(pid) - self.start[name], 2) for name, pid in self.pids.items()}
        used["harness"] = round(self._harness() - self.harness, 2)
        used["wall"] = round(time.monotonic() - self.wall, 2)
        return used


def _operator_args(config: BenchConfig) -> list[str]:
    tracking = (["--artifact-tracking", "--artifact-check-seconds", str(config.artifact_check_seconds)]
                if config.artifact_check_seconds is not None else [])
    return ["--resync-seconds", str(config.resync_seconds), "--tag-check-every", str(config.tag_check_every),
            *tracking, *config.operator_args]


def _is_artifact_call(operation: str) -> bool:
    """S3 reads of tracked models' artifacts (the emulator counts S3 requests as S3.<METHOD>)."""
    return operation.startswith("S3.")


def _seed_artifacts(stack: Stack, names: Sequence[str]) -> None:
    """The models' files in the emulator's S3, for artifact tracking to read."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name=REGION, aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="models")
    for name in names:
        s3.put_object(Bucket="models", Key=f"{name}.tar.gz", Body=name.encode())


def _profile_start(stack: Stack, config: BenchConfig, out: Path) -> Any:
    if not config.profile or stack.operator is None:
        return None
    return stack.start_profiler(stack.operator.pid, out)


def _profile_stop(stack: Stack, handle: Any, out: Path) -> dict[str, Any] | None:
    if handle is None:
        return None
    stack.stop_profiler(handle)
    from bench.profile_summary import summarize

    return summarize(out) if out.exists() else None


def converge(stack: Stack, objects: Objects, watch: EndpointWatch, config: BenchConfig, count: int,
             workdir: Path) -> dict[str, Any]:
    """Apply N triples of objects and wait until every endpoint is Ready."""
    assert stack.operator is not None
    all_names = names(count)
    if config.artifact_check_seconds is not None:
        _seed_artifacts(stack, all_names)
    stack.admin.reset_counters()
    meter = CpuMeter(stack.pids())
    profiler = _profile_start(stack, config, workdir / "profile-convergence.txt")
    bodies = [manifest(kind, name) for name in all_names for kind in KINDS]
    applied_from = time.time()
    timings = bulk(objects.create, bodies, config.apply_workers)
    applied_until = time.time()
    apply_cpu = meter.read()
    wait_until(lambda: len(watch.ready_times(all_names)) == count, timeout=config.converge_timeout,
               what=f"{count} endpoints to be Ready", interval=0.5)
    ready = watch.ready_times(all_names)
    cpu = meter.read()
    profile = _profile_stop(stack, profiler, workdir / "profile-convergence.txt")
    endpoint_applied = {name: timings[3 * i + 2].sent for i, name in enumerate(all_names)}
    each = [ready[name] - endpoint_applied[name] for name in all_names]
    calls = _operator_calls(stack.admin.counters())
    writes = stack.operator.kube_writes()
    passes = stack.operator.reconciles()
    return {
        "seconds": round(max(ready.values()) - applied_from, 2),
        "endpoint_ready_seconds": {"p50": round(percentile(each, 50), 2), "p95": round(percentile(each, 95), 2),
                                   "max": round(max(each), 2)},
        "apply": {"objects": len(bodies), "seconds": round(applied_until - applied_from, 2),
                  "objects_per_second": round(len(bodies) / max(applied_until - applied_from, 1e-6), 1),
                  "harness_cpu_seconds": apply_cpu["harness"],
                  "request_ms_p50": round(percentile([(t.done - t.sent) * 1000 for t in timings], 50), 1)},
        "aws_calls": calls,
        "aws_calls_per_endpoint": _per(calls, count),
        "aws_calls_per_endpoint_total": round(sum(calls.values()) / count, 3),
        "kube_writes": writes,
        "kube_writes_per_object": _per(writes, count),
        "reconciles_per_object": _per(passes, count),
        "cpu_seconds": cpu,
        "operator_peak_rss_mb": round(proc_status_kb(stack.operator.pid, "VmHWM") / 1024, 1),
        "profile": profile,
    }


def restart(stack: Stack, objects: Objects, watch: EndpointWatch, config: BenchConfig, count: int
            ) -> dict[str, Any]:
    """Kill the operator with N Ready endpoints and measure what the new process does in its first window."""
    assert stack.operator is not None
    peak_before = proc_status_kb(stack.operator.pid, "VmHWM")
    before = {kind: objects.versions(kind) for kind in KINDS}
    flaps_before = len(watch.flaps)
    stack.kill_operator()
    stack.admin.reset_counters()
    operator = stack.start_operator(NAMESPACE, _operator_args(config), "operator-2.log")
    meter = CpuMeter(stack.pids())
    started = operator.started
    series: list[dict[str, Any]] = []
    bucket = 5.0
    mark = started + bucket
    while mark <= started + config.restart_seconds + 1e-6:
        time.sleep(max(0.0, mark - time.time()))
        series.append({"t": round(mark - started, 1), "calls": _operator_calls(stack.admin.counters())})
        mark += bucket
    calls = series[-1]["calls"] if series else {}
    writes = operator.kube_writes()
    after = {kind: objects.versions(kind) for kind in KINDS}
    changed = {kind: sum(1 for name, (rv, _) in after[kind].items() if before[kind].get(name, ("", 0))[0] != rv)
               for kind in KINDS}
    spec_changed = {kind: sum(1 for name, (_, gen) in after[kind].items() if before[kind].get(name, ("", 0))[1] != gen)
                    for kind in KINDS}
    flaps = watch.flaps[flaps_before:]
    describes = [sum(v for op, v in point["calls"].items() if op == "DescribeEndpoint") for point in series]
    per_bucket = [b - a for a, b in zip([0, *describes[:-1]], describes, strict=True)]
    return {
        "window_seconds": config.restart_seconds,
        "aws_calls": calls,
        "aws_writes": sum(v for op, v in calls.items() if _is_write(op)),
        "describes_per_endpoint": round(sum(v for op, v in calls.items() if op.startswith("Describe")) / count, 3),
        "describe_endpoint_per_5s": per_bucket,
        "kube_writes": writes,
        "objects_written": changed,
        "spec_writes": sum(spec_changed.values()),
        "endpoints_flapped": len({name for _, name, _ in flaps}),
        "flap_reasons": sorted({reason for _, _, reason in flaps}),
        "cpu_seconds": meter.read(),
        "first_process_peak_rss_mb": round(peak_before / 1024, 1),
    }


def steady(stack: Stack, config: BenchConfig, count: int) -> dict[str, Any]:
    """An idle window: AWS calls per endpoint per minute and operator CPU."""
    assert stack.operator is not None
    stack.admin.reset_counters()
    writes_before = stack.operator.kube_writes()
    meter = CpuMeter(stack.pids())
    time.sleep(config.steady_seconds)
    cpu = meter.read()
    every = _operator_calls(stack.admin.counters())
    # Artifact checks have their own pace and are reported apart from the endpoints' drift checks.
    artifact_calls = {op: n for op, n in every.items() if _is_artifact_call(op)}
    calls = {op: n for op, n in every.items() if not _is_artifact_call(op)}
    minutes = cpu["wall"] / 60.0
    per_minute = sum(calls.values()) / count / minutes
    return {
        "window_seconds": cpu["wall"],
        "resync_seconds": config.resync_seconds,
        "artifact_check_seconds": config.artifact_check_seconds,
        "artifact_calls": artifact_calls,
        "artifact_calls_per_model_per_minute": round(sum(artifact_calls.values()) / count / minutes, 4),
        "aws_calls": calls,
        "aws_writes": sum(v for op, v in calls.items() if _is_write(op)),
        "calls_per_endpoint_per_minute": round(per_minute, 4),
        "calls_per_endpoint_per_minute_at_default_resync": round(per_minute * config.resync_seconds / DEFAULT_RESYNC,
                                                                 4),
        "kube_writes": _diff(stack.operator.kube_writes(), writes_before),
        "cpu_seconds": cpu,
        "operator_cpu_seconds_per_minute": round(cpu["operator"] / minutes, 3),
        "operator_cpu_percent": round(100.0 * cpu["operator"] / cpu["wall"], 2),
        "operator_rss_mb": round(proc_status_kb(stack.operator.pid, "VmRSS") / 1024, 1),
    }


def _epoch(stamp: str) -> float | None:
    try:
        return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None


def changed_ready_times(watch: EndpointWatch, wanted: Sequence[str], before: Mapping[str, str], since: float
                        ) -> dict[str, float]:
    """When each endpoint was first seen Ready on a config other than ``before[name]`` at or after ``since``
    (wall clock): Ready on its new config. Without ``since``, an endpoint once Ready on a config older than
    ``before`` (an earlier change's) would count as done before this change even started."""
    return watch.ready_times(wanted, excluding=dict(before), since=since)


def update_latencies(watch: EndpointWatch, sent: Mapping[str, Timed], before: Mapping[str, str], since: float
                     ) -> tuple[list[float], list[float]]:
    """Per changed endpoint, seconds from its model's patch to the first UpdateEndpoint toward a config other
    than ``before[name]`` seen at or after ``since``: as the watch saw ``status.lastDeployment``, and from that
    deployment's ``startedAt`` (whole seconds). One sample per endpoint; an earlier change's update is not one."""
    first: dict[str, tuple[float, str]] = {}
    for (endpoint, target), seen in list(watch.update_seen.items()):
        if (endpoint in sent and target != before.get(endpoint) and seen >= since
                and (endpoint not in first or seen < first[endpoint][0])):
            first[endpoint] = (seen, target)
    observed, stamped = [], []
    for name, timing in sent.items():
        if name not in first:
            continue
        seen, target = first[name]
        observed.append(seen - timing.sent)
        started_at = _epoch(watch.update_started_at.get((name, target), ""))
        if started_at is not None:
            stamped.append(max(0.0, started_at - int(timing.sent)))
    return observed, stamped


def rolling(stack: Stack, objects: Objects, watch: EndpointWatch, config: BenchConfig, count: int,
            workdir: Path) -> dict[str, Any]:
    """Change every model's image at once; follow every endpoint to InService on its new config."""
    assert stack.operator is not None
    all_names = names(count)
    old, _ = watch.snapshot()
    sample = all_names[:: max(1, count // max(1, config.probe_endpoints))][: config.probe_endpoints]
    probe = Probe(stack.emulator_url, sample)
    probe.start()
    time.sleep(1.0)  # the probe is running before the change
    stack.admin.reset_counters()
    passes_before = stack.operator.reconciles()
    writes_before = stack.operator.kube_writes()
    meter = CpuMeter(stack.pids())
    profiler = _profile_start(stack, config, workdir / "profile-rolling.txt")
    changed_from = time.time()
    timings: list[Timed] = bulk(lambda name: objects.set_image(name, 2), all_names, config.apply_workers)
    try:
        wait_until(lambda: len(changed_ready_times(watch, all_names, old, changed_from)) == count,
                   timeout=config.rolling_timeout, what=f"{count} endpoints to be InService on their new config",
                   interval=0.5)
    finally:
        time.sleep(1.0)
        probe.stop()
    cpu = meter.read()
    profile = _profile_stop(stack, profiler, workdir / "profile-rolling.txt")
    done = changed_ready_times(watch, all_names, old, changed_from)
    observed, stamped = update_latencies(watch, dict(zip(all_names, timings, strict=True)), old, changed_from)
    calls = _operator_calls(stack.admin.counters())
    writes = _diff(stack.operator.kube_writes(), writes_before)
    passes = _diff(stack.operator.reconciles(), passes_before)
    return {
        "seconds": round(max(done.values()) - changed_from, 2),
        "apply_seconds": round(max(t.done for t in timings) - changed_from, 2),
        "update_latency_seconds": {"p50": round(percentile(observed, 50), 2),
                                   "p95": round(percentile(observed, 95), 2),
                                   "max": round(max(observed, default=float("nan")), 2), "samples": len(observed)},
        "update_latency_from_started_at": {"p50": round(percentile(stamped, 50), 2),
                                           "p95": round(percentile(stamped, 95), 2)},
        "probe": {"endpoints": len(sample), "ok": probe.ok, "failed": probe.failed, "failures": probe.failures},
        "failed_invocations": probe.failed,
        "aws_calls": calls,
        "aws_calls_per_endpoint": _per(calls, count),
        "kube_writes": writes,
        "kube_writes_per_object": _per(writes, count),
        "reconciles_per_object": _per(passes, count),
        "cpu_seconds": cpu,
        "operator_peak_rss_mb": round(proc_status_kb(stack.operator.pid, "VmHWM") / 1024, 1),
        "profile": profile,
    }


def single_changes(objects: Objects, watch: EndpointWatch, config: BenchConfig, count: int) -> dict[str, Any]:
    """Models changed one at a time, with N endpoints present: the latency a team sees for its own change.

    Each change waits for the previous endpoint to be Ready on its new config, so the figure is the chain's own
    latency (model -> config -> UpdateEndpoint), not a queue of N changes made at the same moment.
    """
    all_names = names(count)
    sample = all_names[:: max(1, count // max(1, config.single_changes))][: config.single_changes]
    latencies: list[float] = []
    for name in sample:
        before, _ = watch.snapshot()
        sent = time.time()
        objects.set_image(name, 3)

        def update_seen(name: str = name, before: dict[str, str] = before, sent: float = sent) -> float | None:
            for (endpoint, target), seen in list(watch.update_seen.items()):
                if endpoint == name and target != before.get(name) and seen >= sent:
                    return seen
            return None

        latencies.append(wait_until(update_seen, timeout=120, what=f"UpdateEndpoint of {name}", interval=0.02) - sent)
        wait_until(lambda name=name, before=before, sent=sent: changed_ready_times(watch, [name], before, sent),
                   timeout=120, what=f"{name} to be Ready on its new config", interval=0.1)
    return {"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2),
            "max": round(max(latencies, default=float("nan")), 2), "samples": len(latencies)}


def _lease_settings(lease: Sequence[float]) -> dict[str, float]:
    duration, deadline, retry = lease
    return {"lease_duration_seconds": duration, "renew_deadline_seconds": deadline, "retry_period_seconds": retry}


def _lease_args(lease: Sequence[float]) -> list[str]:
    duration, deadline, retry = lease
    return [f"--leader-election-lease-duration={int(duration)}", f"--leader-election-renew-deadline={deadline:g}",
            f"--leader-election-retry-period={retry:g}"]


def _standbys(stack: Stack, starts: Sequence[tuple[list[str], str, str]]) -> list[OperatorProcess]:
    """Operators started together, each (arguments, lease id, log name); returned once each stands by (its caches
    filled)."""
    started = [stack.start_operator(NAMESPACE, args, log, lease_id=lease_id, standby=True, wait=False)
               for args, lease_id, log in starts]
    for operator in started:
        wait_until(lambda operator=operator: operator.healthy() and operator.standing_by(), timeout=60,
                   what=f"the operator of {operator.log_path.name} to stand by")
    return started


def _first_to_lead(standbys: Sequence[OperatorProcess], since: float, timeout: float, what: str
                   ) -> tuple[OperatorProcess, float]:
    """The standby that leads first, and the seconds from ``since`` (monotonic) until it did."""
    leader: OperatorProcess = wait_until(lambda: next((op for op in standbys if op.leads()), None),
                                         timeout=timeout, what=what, interval=0.02)
    return leader, time.monotonic() - since


def _settle(operator: OperatorProcess, timeout: float, quiet: float = 0.5) -> None:
    """Wait until the operator has nothing queued and finished no reconcile for ``quiet`` seconds (after taking
    over, a leader queues every object once)."""
    name = "sagemaker_operator_reconciles_total"
    last: tuple[float, float] = (-1.0, time.monotonic())

    def quiet_now() -> bool:
        nonlocal last
        done = sum(scrape_metrics(operator.metrics_port, (name,))[name].values())
        now = time.monotonic()
        if done != last[0]:
            last = (done, now)
        return operator.gauge("sagemaker_operator_queue_depth") == 0 and now - last[1] >= quiet

    wait_until(quiet_now, timeout=timeout, what="the new leader to settle", interval=0.2)


def _write_calls(counters: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """AWS writes by operation from the emulator's counters: (accepted, refused, cut). Cut: the caller went away
    before the emulator had read its request (the emulator answers InternalFailure), so nothing was done."""
    errors = counters.get("operation_errors") or {}
    calls = {op: n for op, n in _operator_calls(counters).items() if _is_write(op)}
    cut = {op: int((errors.get(op) or {}).get(CUT, 0)) for op in calls}
    refused = {op: sum(int(n) for n in (errors.get(op) or {}).values()) - cut[op] for op in calls}
    accepted = {op: n - refused[op] - cut[op] for op, n in calls.items()}
    return accepted, {op: n for op, n in refused.items() if n}, {op: n for op, n in cut.items() if n}


def failover(stack: Stack, objects: Objects, watch: EndpointWatch, config: BenchConfig, count: int
             ) -> dict[str, Any]:
    """Hand-overs between operators started with the same arguments and lease, the endpoints converged.

    Three standbys start together: one like the benchmark's operator (its arguments and lease, default lease
    settings), and a pair at the short ``failover_lease`` settings on a second lease, which the harness holds until
    their turn. SIGTERM: the benchmark's operator is stopped; seconds until its standby leads. SIGKILL: that
    standby is stopped too and the harness releases the second lease; once one of the pair leads and has settled, a
    share of the models is changed and the leader is killed as soon as it made its first AWS write for them.
    Measured from the kill: until the other leads, and until every changed endpoint is Ready on its new config.

    A duplicate write is one that took effect beyond what a single operator does: more than one create or update of
    each kind per changed endpoint, or any write at all in the hand-overs of converged endpoints. Apart from them,
    the new leader repeats the writes that the killed one had made but not yet recorded in status: AWS refuses
    them as already done and the operator adopts the result (``refused_repeats``, next to the killed leader's
    accepted writes). Requests the kill cut off before the emulator read them did nothing (``cut_by_kill``).
    """
    assert stack.operator is not None
    phase_started = time.monotonic()
    args = _operator_args(config)
    first = stack.operator
    duration, _, _ = config.failover_lease
    short_lease = f"{first.lease_id}-short"
    short_args = [*args, *_lease_args(config.failover_lease)]
    objects.hold_lease(short_lease)
    stack.admin.reset_counters()
    standby, *pair = _standbys(stack, [(args, first.lease_id, "operator-standby.log"),
                                       (short_args, short_lease, "operator-failover-1.log"),
                                       (short_args, short_lease, "operator-failover-2.log")])
    # A standby attempts right as it stands by, then every retry period: a signal sent at once would always wait a
    # whole period. An upgrade's SIGTERM comes at any moment of the standby's period.
    time.sleep(random.uniform(0, DEFAULT_LEASE[2] * (1 + JITTER)))
    sent = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    _, sigterm_seconds = _first_to_lead([standby], sent, DEFAULT_LEASE[0] + 30, "the standby to lead after SIGTERM")
    stack.promote(standby)
    first.process.wait(timeout=60)

    standby.process.send_signal(signal.SIGTERM)
    standby.process.wait(timeout=60)
    objects.release_lease(short_lease)
    leader, _ = _first_to_lead(pair, time.monotonic(), duration + 30, "one of the pair to lead")
    stack.promote(leader)
    survivor = next(op for op in pair if op is not leader)
    _settle(leader, timeout=config.failover_timeout)
    handover_writes, handover_refused, handover_cut = _write_calls(stack.admin.counters())

    all_names = names(count)
    share = max(1, round(count * config.failover_share))
    changed = all_names[:: max(1, count // share)][:share]
    before, _ = watch.snapshot()
    stack.admin.reset_counters()
    changed_from = time.time()
    bulk(lambda name: objects.set_image(name, 4), changed, config.apply_workers)
    wait_until(lambda: _write_calls(stack.admin.counters())[0], timeout=config.failover_timeout,
               what="the leader's first AWS write for the change", interval=0.01)
    killed_wall, killed = time.time(), time.monotonic()
    leader.process.kill()
    leader.process.wait()
    # Requests in flight at the kill are counted a moment later (done, or cut); the standby waits a lease anyway.
    time.sleep(0.25)
    killed_leader_writes = _write_calls(stack.admin.counters())[0]
    _, to_leading = _first_to_lead([survivor], killed, duration + 30, "the standby to lead after SIGKILL")
    stack.promote(survivor)
    wait_until(lambda: len(changed_ready_times(watch, changed, before, changed_from)) == len(changed),
               timeout=config.failover_timeout, what=f"{len(changed)} changed endpoints to be Ready", interval=0.1)
    ready = changed_ready_times(watch, changed, before, changed_from)
    updated = watch.update_times(changed, since=changed_from)
    churn_writes, churn_refused, churn_cut = _write_calls(stack.admin.counters())
    handover = {**handover_writes, **{f"{op} (refused)": n for op, n in handover_refused.items()},
                **{f"{op} (cut)": n for op, n in handover_cut.items()}}
    duplicates = sum(handover.values()) + sum(max(0, n - len(changed)) for n in churn_writes.values())
    return {
        "failover_kill_to_leading_seconds": round(to_leading, 2),
        "failover_kill_to_converged_seconds": round(max(ready.values()) - killed_wall, 2),
        "failover_sigterm_handover_seconds": round(sigterm_seconds, 2),
        "failover_duplicate_writes": duplicates,
        "failover_lease_settings": {"sigkill": _lease_settings(config.failover_lease),
                                    "sigterm": _lease_settings(DEFAULT_LEASE)},
        "failover": {
            "seconds": round(time.monotonic() - phase_started, 1),
            "changed_endpoints": len(changed),
            "killed_leader_aws_writes": killed_leader_writes,
            "kill_to_last_update_seconds": round(max(updated.values(), default=float("nan")) - killed_wall, 2),
            "handover_aws_writes": handover,
            "aws_writes": churn_writes,
            "refused_repeats": churn_refused,
            "cut_by_kill": churn_cut,
        },
    }


def run_once(config: BenchConfig, count: int, workdir: Path,
             log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """One complete run at N = ``count`` on a fresh stack; every process is stopped before it returns."""
    from tests.crd_helpers import apply_crds

    result: dict[str, Any] = {"endpoints": count}
    started = time.monotonic()
    with Stack(workdir, config.create_seconds, config.update_seconds, config.latency_ms) as stack:
        result["kubernetes_version"] = stack.cluster.version
        client = _client(stack.cluster.kubeconfig_path, pool=max(16, config.apply_workers * 2))
        watch = EndpointWatch(client, NAMESPACE)
        try:
            apply_crds(client)
            objects = Objects(client, NAMESPACE)
            objects.create_namespace()
            stack.start_operator(NAMESPACE, _operator_args(config), "operator-1.log")
            watch.start()
            log(f"N={count}: stack up in {time.monotonic() - started:.1f} s; applying {3 * count} objects")
            result["convergence"] = converge(stack, objects, watch, config, count, workdir)
            log(f"N={count}: converged in {result['convergence']['seconds']} s; restarting the operator")
            result["restart"] = restart(stack, objects, watch, config, count)
            log(f"N={count}: restart window done; steady window of {config.steady_seconds:.0f} s")
            result["steady"] = steady(stack, config, count)
            if config.single_changes:
                log(f"N={count}: {config.single_changes} single model changes, one at a time")
                result["single_change_latency_seconds"] = single_changes(objects, watch, config, count)
            if config.rolling:
                log(f"N={count}: rolling change of every model image")
                result["rolling"] = rolling(stack, objects, watch, config, count, workdir)
                log(f"N={count}: rolling change done in {result['rolling']['seconds']} s")
            peaks = [result["convergence"]["operator_peak_rss_mb"], result["restart"]["first_process_peak_rss_mb"]]
            if stack.operator is not None:
                peaks.append(round(proc_status_kb(stack.operator.pid, "VmHWM") / 1024, 1))
            result["operator_peak_rss_mb"] = max(peaks)
            if config.failover:
                log(f"N={count}: failover: SIGTERM and SIGKILL of the leader with a standby")
                result.update(failover(stack, objects, watch, config, count))
                log(f"N={count}: failover: SIGTERM hand-over {result['failover_sigterm_handover_seconds']} s, "
                    f"SIGKILL to leading {result['failover_kill_to_leading_seconds']} s, to converged "
                    f"{result['failover_kill_to_converged_seconds']} s")
            result["watch"] = {"events": watch.events, "error": watch.error}
        finally:
            watch.stop()
            client.close()
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def median_of(runs: Sequence[Any]) -> Any:
    """The element-wise median of repeated results (numbers: median; dicts: per key; anything else: the first)."""
    first = runs[0]
    if isinstance(first, bool) or not runs:
        return first
    if isinstance(first, int | float):
        values = [r for r in runs if isinstance(r, int | float)]
        return round(statistics.median(values), 4) if values else first
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(r, dict) and k in r for r in runs)]
        return {k: median_of([r[k] for r in runs]) for k in keys}
    return first


_ABBREVIATIONS = {"CreateModel": "CM", "CreateEndpointConfig": "CEC", "CreateEndpoint": "CE",
                  "DescribeEndpoint": "DE", "DescribeModel": "DM", "DescribeEndpointConfig": "DEC", "ListTags": "LT",
                  "UpdateEndpoint": "UE", "AddTags": "AT", "DeleteTags": "DT", "DeleteModel": "DelM",
                  "DeleteEndpointConfig": "DelEC"}


def _ops(per_endpoint: Mapping[str, float]) -> str:
    return " ".join(f"{_ABBREVIATIONS.get(op, op)} {v:g}" for op, v in per_endpoint.items())


def print_table(summary: Mapping[int, Mapping[str, Any]]) -> None:
    """The summary as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="sagemaker-operator benchmark (medians)", show_lines=True)
    for column in ("N", "converge s", "AWS calls / endpoint (convergence)", "k8s writes / obj",
                   "steady calls/ep/min (@resync → @300 s)", "op CPU % steady", "one change→Update p50/p95 s",
                   "rolling s", "all at once: apply→Update p50/p95 s",
                   "failed inv.", "restart: AWS writes / describes/ep / k8s writes / spec writes", "peak RSS MB",
                   "failover: SIGTERM s / SIGKILL→lead s / →converged s / dup. writes"):
        table.add_column(column, overflow="fold")
    for count, row in summary.items():
        c, s, r = row.get("convergence", {}), row.get("steady", {}), row.get("restart", {})
        roll = row.get("rolling") or {}
        single = row.get("single_change_latency_seconds") or {}
        latency = roll.get("update_latency_seconds", {})
        writes = sum(c.get("kube_writes", {}).values()) / (3 * count) if c else float("nan")
        table.add_row(
            str(count), f"{c.get('seconds', float('nan')):.1f}",
            f"{c.get('aws_calls_per_endpoint_total', 0):g}: {_ops(c.get('aws_calls_per_endpoint', {}))}",
            f"{writes:.2f}",
            f"{s.get('calls_per_endpoint_per_minute', 0):.3f} → "
            f"{s.get('calls_per_endpoint_per_minute_at_default_resync', 0):.3f}",
            f"{s.get('operator_cpu_percent', 0):.2f}",
            f"{single.get('p50', float('nan')):.2f} / {single.get('p95', float('nan')):.2f}" if single else "-",
            f"{roll.get('seconds', float('nan')):.1f}" if roll else "-",
            f"{latency.get('p50', float('nan')):.2f} / {latency.get('p95', float('nan')):.2f}" if roll else "-",
            str(roll.get("failed_invocations", "-")),
            f"{r.get('aws_writes', 0):g} / {r.get('describes_per_endpoint', 0):.2f} / "
            f"{sum(r.get('kube_writes', {}).values()):g} / {r.get('spec_writes', 0):g}",
            f"{row.get('operator_peak_rss_mb', float('nan')):.0f}",
            f"{row['failover_sigterm_handover_seconds']:.2f} / {row['failover_kill_to_leading_seconds']:.2f} / "
            f"{row['failover_kill_to_converged_seconds']:.2f} / {row['failover_duplicate_writes']:g}"
            if "failover_duplicate_writes" in row else "-",
        )
    Console(width=max(Console().width, 200)).print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, run every N (``--repeat`` times), write the JSON report and the chart, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--endpoints", default="100,500,1000", help="comma-separated N values")
    parser.add_argument("--repeat", type=int, default=1, help="runs per N; the summary reports medians")
    parser.add_argument("--create-seconds", type=float, default=5.0, help="emulator endpoint create time")
    parser.add_argument("--update-seconds", type=float, default=5.0, help="emulator endpoint update time")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency injected on every AWS call")
    parser.add_argument("--resync-seconds", type=float, default=60.0, help="the operator's --resync-seconds")
    parser.add_argument("--tag-check-every", type=int, default=1, help="the operator's --tag-check-every (its default)")
    parser.add_argument("--restart-seconds", type=float, default=60.0, help="restart window (its first minute)")
    parser.add_argument("--steady-seconds", type=float, default=120.0, help="idle window")
    parser.add_argument("--no-rolling", action="store_true", help="skip the rolling change")
    parser.add_argument("--apply-workers", type=int, default=8, help="harness threads creating/patching objects")
    parser.add_argument("--probe-endpoints", type=int, default=20, help="endpoints the probe invokes")
    parser.add_argument("--single-changes", type=int, default=20,
                        help="models changed one at a time for the per-change latency (0: skip)")
    parser.add_argument("--profile", action="store_true", help="py-spy the operator in convergence and rolling")
    parser.add_argument("--no-failover", action="store_true", help="skip the failover phase (SIGTERM, SIGKILL)")
    parser.add_argument("--failover-lease", default=",".join(f"{v:g}" for v in FAILOVER_LEASE),
                        metavar="DURATION,DEADLINE,RETRY",
                        help="lease duration, renew deadline and retry period (s) of the SIGKILL measurement")
    parser.add_argument("--failover-share", type=float, default=0.25,
                        help="share of the endpoints changed before the leader is killed")
    parser.add_argument("--phase-timeout", type=float, default=900.0, metavar="SECONDS",
                        help="longest wait for convergence and for the rolling change (raise it for N = 10,000)")
    parser.add_argument("--artifact-check-seconds", type=float, default=None, metavar="SECONDS",
                        help="track every model's artifact (put in the emulator's S3), read every SECONDS; the steady "
                             "window reports these S3 calls apart from the drift checks")
    parser.add_argument("--operator-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `sagemaker-operator run` (repeatable): --operator-arg=--workers=16")
    parser.add_argument("--kubernetes-version", default=None, metavar="1.MINOR[.PATCH]",
                        help="version of the local API server (default: $SAGEMAKER_OPERATOR_KUBERNETES_VERSION, else "
                             f"{DEFAULT_KUBERNETES_VERSION})")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for report.json, chart.png and logs "
                             "(default ~/.cache/sagemaker-operator/bench/operator-TIMESTAMP)")
    parser.add_argument("--publish", action="store_true",
                        help="also write each N's record (the median over --repeat) to "
                             "bench/results/<YYYY-MM-DD>-<N>.json, for README's table (python -m bench.results readme)")
    args = parser.parse_args(argv)
    kubernetes_version = resolve_version(requested_version(args.kubernetes_version))
    # The stack's LocalCluster reads the version from the environment, as the tests' does.
    os.environ[VERSION_ENV] = kubernetes_version
    counts = [int(n) for n in args.endpoints.split(",") if n.strip()]
    duration, deadline, retry = (float(v) for v in args.failover_lease.split(","))
    config = BenchConfig(create_seconds=args.create_seconds, update_seconds=args.update_seconds,
                         latency_ms=args.latency_ms, resync_seconds=args.resync_seconds,
                         tag_check_every=args.tag_check_every, restart_seconds=args.restart_seconds,
                         steady_seconds=args.steady_seconds, rolling=not args.no_rolling,
                         apply_workers=args.apply_workers, probe_endpoints=args.probe_endpoints,
                         single_changes=args.single_changes,
                         operator_args=list(args.operator_arg), profile=args.profile,
                         failover=not args.no_failover, failover_lease=(int(duration), deadline, retry),
                         failover_share=args.failover_share, artifact_check_seconds=args.artifact_check_seconds,
                         converge_timeout=args.phase_timeout, rolling_timeout=args.phase_timeout)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or Path.home() / ".cache" / "sagemaker-operator" / "bench" / f"operator-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[int, list[dict[str, Any]]] = {}
    # Taken before the first run: the commit measured, and the day the records are named after.
    report: dict[str, Any] = {
        "config": asdict(config),
        "machine": machine_facts(),
        "kubernetes_version": kubernetes_version,
        "date": today(),
        "git_commit": git_commit(),
        "runs": runs, "summary": {}, "records": {}}

    def log(message: str) -> None:
        print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)

    for count in counts:
        for repetition in range(args.repeat):
            runs.setdefault(count, []).append(run_once(config, count, out / f"n{count}-r{repetition}", log))
            report["summary"] = {n: median_of(r) for n, r in runs.items()}
            report["records"] = {
                n: published_record(summary, date=report["date"], machine=report["machine"],
                                    kubernetes_version=kubernetes_version, config=report["config"],
                                    git_commit=report["git_commit"], runs=len(runs[n]))
                for n, summary in report["summary"].items()}
            (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print_table(report["summary"])
    chart = out / "chart.png"
    if not write_chart(report["records"], chart):
        print("matplotlib is not installed: no chart (pip install matplotlib)")
    print(f"report: {out / 'report.json'}" + (f"\nchart: {chart}" if chart.exists() else ""))
    if args.publish:
        for record in report["records"].values():
            print(f"published: {write_record(record, RESULTS_DIR)}")
        print("README's table: python -m bench.results readme")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
