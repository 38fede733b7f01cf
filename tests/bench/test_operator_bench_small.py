"""The operator benchmark at N = 20 with short windows, failover included, so that it never rots (about 70 s on
an idle machine, 110 s on 2 busy cores).

It asserts only what does not depend on machine speed: AWS calls per endpoint by operation, Kubernetes writes,
and zero failed invocations. The timing targets are left to the full run (``python -m bench.operator_bench``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from bench.operator_bench import DEFAULT_LEASE, BenchConfig, run_once
from bench.results import REQUIRED_KEYS, dump_record, machine_facts, published_record, today

from sagemaker_operator.leader import JITTER

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(300)]

N = 20
# Creation takes 3 s; the operator polls at its defaults (5 s, doubling): one describe finds it InService.
# The resync is shortened so that the 30 s idle window holds drift checks (each a page of every list: 20 of a kind
# fit in one), and exceeds the 15 s restart window, which therefore holds one check at most.
# The failover's SIGKILL runs at a 2 s lease (renewed every 0.5 s, given up after 1.5 s) to keep the test short;
# two single changes instead of three pay for most of the phase (nothing here asserts on their latency).
CONFIG = BenchConfig(create_seconds=3, update_seconds=3, latency_ms=30, resync_seconds=20, tag_check_every=1,
                     restart_seconds=15, steady_seconds=30, probe_endpoints=10, single_changes=2,
                     failover_lease=(2, 1.5, 0.5))
# The 3 creates and the describe that finds the endpoint InService (an endpoint woken while it is created, by its
# config's status, describes once more), besides a drift check's pages.
MAX_CALLS_TO_CREATE = 5
PAGES = ("ListEndpoints", "ListModels", "ListEndpointConfigs", "GetResources")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One small run; every process it started is gone when it returns."""
    workdir: Path = tmp_path_factory.mktemp("operator-bench")
    return run_once(CONFIG, N, workdir)


def test_the_published_record_of_the_run_has_every_required_figure(result: dict[str, Any]) -> None:
    """What --publish writes (bench/results/) is complete for a run of every phase, and valid JSON."""
    record = published_record(result, date=today(), machine=machine_facts(), config=asdict(CONFIG))
    assert not [key for key in REQUIRED_KEYS if record.get(key) is None], record
    assert record["kubernetes_version"] == result["kubernetes_version"]
    assert record["endpoints"] == N
    assert json.loads(dump_record(record)) == record


def test_creating_an_endpoint_costs_its_creates_and_the_describes_its_waits_need(result: dict[str, Any]) -> None:
    calls = result["convergence"]["aws_calls"]
    assert calls.get("CreateModel") == N
    assert calls.get("CreateEndpointConfig") == N
    assert calls.get("CreateEndpoint") == N
    assert not {op for op in calls if op.startswith(("Update", "Delete", "AddTags", "DeleteTags"))}, calls
    # A new endpoint is created without a Describe first: one per endpoint finds it InService.
    assert N <= calls.get("DescribeEndpoint", 0) < 2 * N, calls
    assert sum(n for op, n in calls.items() if op not in PAGES) <= MAX_CALLS_TO_CREATE * N, calls
    writes = result["convergence"]["kube_writes_per_object"]
    # The finalizer: put on by the API server's admission policy where it serves the API (Kubernetes >= 1.36),
    # else added by the operator, one write each.
    policy = int(result["kubernetes_version"].split(".")[1]) >= 36
    for kind in ("SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"):
        assert writes.get(f"{kind}/finalizers") == (None if policy else 1.0), writes
    # The result of each step (an endpoint: Creating, then InService); a brief wait for another object writes none.
    assert writes.get("SageMakerModel/status") == 1.0, writes
    assert writes.get("SageMakerEndpointConfig/status", 0) <= 1.5, writes
    assert writes.get("SageMakerEndpoint/status", 0) <= 2.5, writes


def test_restart_with_every_endpoint_ready_writes_nothing_and_describes_nothing(result: dict[str, Any]) -> None:
    restart = result["restart"]
    assert restart["aws_writes"] == 0, restart["aws_calls"]
    assert restart["spec_writes"] == 0
    # Status says what each endpoint was; one drift check by the page confirms it all.
    allowed = (*PAGES, "GetCallerIdentity")
    assert not {op for op in restart["aws_calls"] if op not in allowed}, restart["aws_calls"]
    assert all(restart["aws_calls"].get(page, 0) <= 1 for page in PAGES), restart["aws_calls"]
    # The operator's own account, to check that existing resources are where the objects point: once per region.
    assert restart["aws_calls"].get("GetCallerIdentity", 0) <= 1, restart["aws_calls"]


def test_restart_does_not_flap_ready_endpoints(result: dict[str, Any]) -> None:
    restart = result["restart"]
    assert restart["endpoints_flapped"] == 0, restart["flap_reasons"]
    assert not restart["kube_writes"], restart["kube_writes"]


def test_steady_state_costs_a_page_of_each_list_per_resync(result: dict[str, Any]) -> None:
    steady = result["steady"]
    checks = math.floor(steady["window_seconds"] / CONFIG.resync_seconds) + 1  # at most
    assert steady["aws_writes"] == 0, steady["aws_calls"]
    assert set(steady["aws_calls"]) <= set(PAGES), steady["aws_calls"]  # nothing described one by one
    assert all(steady["aws_calls"].get(page, 0) <= checks for page in PAGES), steady["aws_calls"]
    assert not steady["kube_writes"], steady["kube_writes"]


def test_rolling_change_updates_each_endpoint_once_without_failed_invocations(result: dict[str, Any]) -> None:
    rolling = result["rolling"]
    assert rolling["failed_invocations"] == 0, rolling["probe"]["failures"]
    assert rolling["probe"]["ok"] > 0
    calls = rolling["aws_calls"]
    assert calls.get("UpdateEndpoint") == N, calls
    assert calls.get("CreateModel") == N and calls.get("CreateEndpointConfig") == N, calls
    assert rolling["update_latency_seconds"]["samples"] == N


def test_failover_hands_over_without_duplicate_writes(result: dict[str, Any]) -> None:
    duration, _, retry = CONFIG.failover_lease
    assert result["failover_lease_settings"] == {
        "sigkill": {"lease_duration_seconds": duration, "renew_deadline_seconds": 1.5, "retry_period_seconds": retry},
        "sigterm": {"lease_duration_seconds": 15, "renew_deadline_seconds": 10.0, "retry_period_seconds": 2.0}}
    # SIGTERM releases the lease: the standby leads at its next attempt, long before the lease could expire.
    assert result["failover_sigterm_handover_seconds"] < DEFAULT_LEASE[2] * (1 + JITTER) + 2.0
    # SIGKILL: the standby waits out the lease it last saw renewed (at most one of its retries before the kill),
    # never less: fencing by time.
    assert result["failover_kill_to_leading_seconds"] >= duration - retry * (1 + JITTER)
    assert result["failover_kill_to_leading_seconds"] <= duration + 10
    assert result["failover_kill_to_converged_seconds"] > result["failover_kill_to_leading_seconds"]
    detail = result["failover"]
    assert result["failover_duplicate_writes"] == 0, detail
    assert detail["handover_aws_writes"] == {}, detail
    changed = detail["changed_endpoints"]
    assert changed == N // 4
    writes = detail["aws_writes"]
    assert {op: writes.get(op) for op in ("CreateModel", "CreateEndpointConfig", "UpdateEndpoint")} == {
        "CreateModel": changed, "CreateEndpointConfig": changed, "UpdateEndpoint": changed}, detail
    # Besides, revisions past the history limit are deleted: at most once each.
    assert all(n <= changed for n in writes.values()), detail
    # The new leader's first pass over what it inherited looks before it creates: what the killed leader created
    # but could not record is found, not created again (not even as a call AWS would refuse).
    assert not any(detail["refused_repeats"].values()), detail
