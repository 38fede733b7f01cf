"""Churn under AWS faults, churn while the operator is SIGKILLed at random moments, and an AWS outage.

Sizes: under faults 25 endpoints by default, with crashes 20 endpoints and 10 kills; ``SAGEMAKER_OPERATOR_CHURN=200``
runs both churns with 200 endpoints (several minutes each).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.helpers import wait_for
from tests.operator_harness import Objects
from tests.reliability.harness import (
    CONFIG,
    ENDPOINT,
    IMAGE,
    MODEL,
    Churn,
    CreationLog,
    OperatorProcess,
    churn_size,
    create_chain,
    faults,
    is_true,
    list_objects,
    metric_sum,
    successful_calls,
)
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster



def _creates_once(creations: CreationLog, churn: Churn) -> None:
    """Models and configs: one per distinct spec, created once; endpoints: created, then recreated after the delete."""
    twice = creations.twice({"CreateEndpoint": 2})
    assert not twice, f"AWS resources created more than once: {twice}"
    n = len(churn.endpoints)
    assert creations.count("CreateEndpoint") == 2 * n
    assert creations.count("CreateModel") == 3 * n  # :1, :2 and, after the recreate, :3
    assert creations.count("CreateEndpointConfig") == 3 * n  # the weight change reuses the config


def test_churn_under_throttling_5xx_and_latency_converges_with_bounded_retries(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        creations: CreationLog, operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    count = churn_size(25)
    emulator.admin.set_durations(create=0.3, update=0.3, delete=0.2)
    churn = Churn(admin_client, namespace, count, seed=9)
    with operator_factory([namespace], name="faults") as operator, \
            faults(emulator, throttle_rate=0.3, error_rate=0.05, error_status=500, latency_ms=200):
        churn.run(timeout=120 + 30.0 * count)
        settled = assert_invariants(admin_client, emulator, Scope([namespace], degraded={}), operator.log_text())
        metrics = operator.metrics()
    counters = emulator.admin.counters()
    calls, errors = int(counters["total"]), counters["errors"]
    throttled, failed = int(errors.get("ThrottlingException", 0)), int(errors.get("InternalFailure", 0))
    succeeded = calls - sum(int(v) for v in errors.values())
    # What reached the operator's own backoff: calls whose botocore retries were all used up.
    exhausted = metric_sum(metrics, "sagemaker_operator_aws_calls_total", outcome="ThrottlingException") \
        + metric_sum(metrics, "sagemaker_operator_aws_calls_total", outcome="InternalFailure")
    requeued = metric_sum(metrics, "sagemaker_operator_reconciles_total", result="retry")
    print(f"\nchurn of {count} endpoints under faults: {churn.summary()}; settled after {settled:.1f} s; "
          f"AWS calls {calls} ({succeeded} ok, {throttled} throttled, {failed} 5xx); calls that exhausted botocore's "
          f"retries {exhausted:.0f}; reconciles requeued with backoff {requeued:.0f}")
    _creates_once(creations, churn)
    # Bounded: botocore retries a failed call (5 attempts at most, within its retry quota), then the operator's
    # per-object backoff takes over, so the calls made are a small multiple of the calls that succeeded. With 35%
    # of calls failing, a retry storm would show as a ratio far above 1 / 0.65.
    assert calls <= 2.0 * succeeded, f"{calls} calls for {succeeded} successful ones: retries are not bounded"
    # Each fault botocore gave up on requeued its object once, no more; except the account lookup (STS
    # GetCallerIdentity), made once per region and shared by every pass that waits for it: when botocore gives up on
    # it, each of those passes is requeued (at most every object of the churn, three per endpoint).
    shared = metric_sum(metrics, "sagemaker_operator_aws_calls_total", service="sts", outcome="ThrottlingException") \
        + metric_sum(metrics, "sagemaker_operator_aws_calls_total", service="sts", outcome="InternalFailure")
    assert requeued <= exhausted + 1 + shared * 3 * count, (requeued, exhausted, shared)
    # botocore retried: most faults never reached the operator. Not nearly all of them: with 35% of calls failing
    # for minutes, botocore's retry quota runs dry (its purpose) and hands the rest to the per-object backoff; at
    # 200 endpoints about 40% of the faults surfaced, at 25 about 1%.
    assert exhausted < 0.5 * (throttled + failed), f"{exhausted:.0f} of {throttled + failed} faults surfaced"
    # Backed off: the operator's own retries (the controller's "retrying in N s") are spaced out, never immediate.
    delays = [float(word) for line in operator.log_text().splitlines() if "retrying in" in line
              for word in [line.rsplit("retrying in ", 1)[1].split()[0]]]
    assert all(delay >= 1 for delay in delays), delays
    # Per endpoint, the calls stay bounded: every one made a fixed number of steps.
    assert calls / count < 60, f"{calls / count:.0f} AWS calls per churned endpoint"
    assert successful_calls(counters, "UpdateEndpoint") == count


def test_operator_killed_at_random_moments_during_churn_creates_nothing_twice(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        creations: CreationLog, operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    count = churn_size(20)
    kills = 10
    emulator.admin.set_durations(create=0.5, update=0.5, delete=0.3)
    churn = Churn(admin_client, namespace, count, seed=10)
    operator = operator_factory([namespace], name="crash")
    rng = random.Random(11)
    stop = threading.Event()
    ready = threading.Event()  # set while an operator has started and may be killed
    killed: list[float] = []

    def killer() -> None:
        # Only kills. Restarts happen on the main thread: a child started by a thread that exits would get the
        # parent-death signal that start_child arms (PR_SET_PDEATHSIG fires when the forking *thread* ends).
        while len(killed) < kills and not stop.wait(rng.uniform(1.0, 4.0)):
            process = operator.process
            if ready.is_set() and process is not None and process.poll() is None:
                ready.clear()
                process.send_signal(signal.SIGKILL)
                killed.append(time.monotonic())

    def restart_if_killed() -> None:
        if operator.process is None or operator.process.poll() is not None:
            operator.start()
            ready.set()

    restart_if_killed()
    thread = threading.Thread(target=killer, name="operator-killer")
    thread.start()
    try:
        churn.run(timeout=180 + 6.0 * count, on_round=restart_if_killed)
        # The kills go on after the churn ends, until all have happened: the invariants must hold after each.
        wait_for(lambda: (restart_if_killed(), len(killed) >= kills or not thread.is_alive())[1], timeout=120,
                 interval=0.5, what=f"{kills} kills")
        assert killed and killed[0] < churn.finished, "the kills must start during the churn"
        restart_if_killed()
        assert_invariants(admin_client, emulator, Scope([namespace], degraded={}), operator.log_text())
    finally:
        stop.set()
        thread.join(timeout=60)
        operator.stop()
    counters = emulator.admin.counters()
    adopted = sum(int(n) for op in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint")
                  for n in counters.get("operation_errors", {}).get(op, {}).values())
    print(f"\nchurn of {count} endpoints with {len(killed)} SIGKILLs: {churn.summary()}; creates answered "
          f"'already exists' (adopted after a crash): {adopted}")
    _creates_once(creations, churn)


def test_an_aws_outage_degrades_nothing_and_changes_made_during_it_converge_after(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    rolled, tagged, new = ["rolled0", "rolled1"], ["tagged0", "tagged1"], ["new0", "new1"]
    old = rolled + tagged
    emulator.admin.set_durations(create=0.3, update=0.3, delete=0.2)

    with operator_factory([namespace], name="outage") as operator:
        for name in old:
            create_chain(objects, name)
        configs = {name: objects.wait_condition(ENDPOINT, name, "Ready", timeout=60)["status"][
            "currentEndpointConfigName"] for name in old}
        # Every AWS call answers 503 (botocore's retries included) while models change and endpoints are added.
        began = time.monotonic()
        with faults(emulator, error_rate=1.0, error_status=503):
            for name in rolled:
                objects.patch(MODEL, name, {"spec": {"primaryContainer": {"image": f"{IMAGE}-{name}:2"}}})
            for name in tagged:  # their endpoints meet the outage themselves (the others wait for their models)
                objects.patch(ENDPOINT, name, {"spec": {"tags": {"team": "ml"}}})
            for name in new:
                create_chain(objects, name)

            def outage_met_by_models_and_endpoints() -> bool:
                degraded = [(obj["kind"], obj["metadata"]["name"]) for kind in (MODEL, CONFIG, ENDPOINT)
                            for obj in list_objects(admin_client, namespace, kind) if is_true(obj, "Degraded")]
                assert degraded == [], f"an outage is not the objects' fault: {degraded}"
                # Reconciles that ended in the backoff (botocore's own retries of each call come on top).
                metrics = operator.metrics()
                backed_off = {kind: metric_sum(metrics, "sagemaker_operator_reconciles_total", kind=kind,
                                               result="retry") for kind in (MODEL, ENDPOINT)}
                return backed_off[MODEL] >= 3 * len(rolled + new) and backed_off[ENDPOINT] >= 3 * len(tagged)

            wait_for(outage_met_by_models_and_endpoints, timeout=90, interval=0.5,
                     what="the models and endpoints to meet the outage, three times each")
        ended = time.monotonic()

        def converged() -> bool:
            for name in old + new:
                endpoint = objects.get(ENDPOINT, name) or {}
                current = endpoint.get("status", {}).get("currentEndpointConfigName")
                # Ready for the current generation (the tag change applied); rolled and new ones on a new config.
                if not is_true(endpoint, "Ready") or current is None or (name in rolled and current == configs[name]):
                    return False
            return True

        # Bounded by the per-object backoff the outage built up (doubling from 2 s; a minute-long outage would
        # reach 64 s), not by a resync.
        wait_for(converged, timeout=120, interval=0.5, what="every change made during the outage to be applied")
        print(f"\nconverged {time.monotonic() - ended:.1f} s after a {ended - began:.0f} s AWS outage")
        assert_invariants(admin_client, emulator, Scope([namespace], degraded={}), operator.log_text())
