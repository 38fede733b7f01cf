"""High availability (issue 18): operators with identical arguments, one Lease, never two acting at once.

The operators run as processes on a real API server and the emulator, each with AWS credentials of its own, so the
emulator tells every AWS call's sender (its access key). The API server of this module writes an audit log of every
write, and each operator puts its election identity into its User-Agent, so the log tells which process wrote what
and when. Short lease settings keep the scenarios fast; the SIGTERM scenario uses the defaults, as in production.

Measured hand-over times are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.dev.cluster import LocalCluster
from tests.crd_helpers import apply_crds
from tests.helpers import client_from_kubeconfig, wait_for
from tests.operator_harness import Objects
from tests.reliability.harness import (
    ENDPOINT,
    IMAGE,
    MODEL,
    Churn,
    CreationLog,
    OperatorProcess,
    create_chain,
    is_true,
    list_objects,
)
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster

# Short settings: a lease of 4 s, given up by its holder 3 s after its last renewal, attempts every 0.5 s.
FAST_LEASE = ["--leader-election-lease-duration=4", "--leader-election-renew-deadline=3",
              "--leader-election-retry-period=0.5"]
LEASE_SECONDS = 4
# How long after SIGCONT a request that was on its way at SIGSTOP may still arrive.
IN_FLIGHT_GRACE = 1.0
WRITES = ("Create", "Update", "Delete", "Add", "Register", "Deregister", "Put", "Stop")


# --- fixtures: an API server with an audit log of writes, the CRDs, a namespace per test ---------------------------


@dataclass
class AuditedCluster:
    kubeconfig: Path
    audit_log: Path | None  # None on a TEST_KUBECONFIG cluster: the Kubernetes half of the SIGSTOP check is skipped


@pytest.fixture(scope="module")
def audited() -> Iterator[AuditedCluster]:
    external = os.environ.get("TEST_KUBECONFIG")
    if external:
        yield AuditedCluster(Path(external), None)
        return
    with LocalCluster(audit_writes=True) as cluster:
        yield AuditedCluster(cluster.kubeconfig_path, cluster.audit_log_path)


@pytest.fixture(scope="module")
def admin(audited: AuditedCluster) -> Iterator[ApiClient]:
    client = client_from_kubeconfig(audited.kubeconfig)
    apply_crds(client)
    yield client
    client.close()


@pytest.fixture
def namespace(admin: ApiClient) -> Iterator[str]:
    name = f"ha-{uuid.uuid4().hex[:10]}"
    core = kubernetes.client.CoreV1Api(admin)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(
        name=name, labels={"sagemaker.operator.dev/test": "true"})))
    yield name
    core.delete_namespace(name)


# --- who called AWS, who leads -------------------------------------------------------------------------------------


@dataclass
class AwsCall:
    at: float  # wall clock, as the emulator (in this process) served it
    access_key: str
    operation: str
    ok: bool


@dataclass
class CallLog:
    """Every SageMaker call the emulator serves, with the caller's access key (wraps its handlers in-process)."""

    calls: list[AwsCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> CallLog:
        handlers = emulator.emulator.sagemaker.handlers
        for operation, original in list(handlers.items()):
            def wrapped(ctx: Any, params: dict[str, Any], _original: Any = original, _op: str = operation) -> Any:
                at = time.time()
                try:
                    result = _original(ctx, params)
                except Exception:
                    self._add(AwsCall(at, ctx.access_key, _op, False))
                    raise
                self._add(AwsCall(at, ctx.access_key, _op, True))
                return result

            monkeypatch.setitem(handlers, operation, wrapped)
        return self

    def _add(self, call: AwsCall) -> None:
        with self.lock:
            self.calls.append(call)

    def by(self, access_key: str, since: float = 0.0) -> list[AwsCall]:
        with self.lock:
            return [c for c in self.calls if c.access_key == access_key and c.at >= since]

    def writes(self, *, ok: bool | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.lock:
            for call in self.calls:
                if call.operation.startswith(WRITES) and (ok is None or call.ok == ok):
                    counts[call.operation] = counts.get(call.operation, 0) + 1
        return counts


@pytest.fixture
def calls(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> CallLog:
    return CallLog().install(emulator, monkeypatch)


def probe(operator: OperatorProcess) -> dict[str, Any]:
    """The operator's /healthz payload (its election status under "leader-election"); {} if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.liveness_port}/healthz", timeout=1) as response:
            payload: dict[str, Any] = json.loads(response.read() or b"{}")
            return payload
    except OSError:
        return {}


def election(operator: OperatorProcess) -> dict[str, Any]:
    return dict(probe(operator).get("leader-election") or {})


def leads(operator: OperatorProcess) -> bool:
    """The leader gauge, read now (kopf refreshes the probe payload at most every 10 s: too slow to time with)."""
    try:
        return operator.metrics().get("sagemaker_operator_leader") == 1
    except OSError:
        return False


def identity(operator: OperatorProcess) -> str:
    """The election identity, from the operator's start-up line."""
    found = re.search(r"leader election on lease \S+ as (\S+)", operator.log_text())
    assert found, "no start-up line with the election identity"
    return found.group(1)


@dataclass
class Pair:
    """Two operators with identical arguments (one lease), told apart by their AWS access keys."""

    first: OperatorProcess
    second: OperatorProcess
    keys: dict[int, str]

    def leader(self) -> OperatorProcess | None:
        found = [op for op in (self.first, self.second) if op.process and op.process.poll() is None and leads(op)]
        assert len(found) <= 1, "two processes say they lead"
        return found[0] if found else None

    def other(self, operator: OperatorProcess) -> OperatorProcess:
        return self.second if operator is self.first else self.first

    def key(self, operator: OperatorProcess) -> str:
        return self.keys[id(operator)]


@pytest.fixture
def pair_factory(audited: AuditedCluster, emulator: EmulatorThread, tmp_path: Path
                 ) -> Iterator[Callable[..., Pair]]:
    made: list[OperatorProcess] = []

    def make(namespace: str, lease_args: list[str]) -> Pair:
        lease = [f"--leader-election-id=ha-{uuid.uuid4().hex[:8]}", f"--leader-election-namespace={namespace}",
                 *lease_args]
        operators, keys = [], {}
        for index in range(2):
            key = f"AKIAHAOPERATOR{index:06d}"
            log_dir = tmp_path / f"op{index}"
            log_dir.mkdir()
            operator = OperatorProcess(audited.kubeconfig, emulator.url, [namespace], log_dir, lease,
                                       {"AWS_ACCESS_KEY_ID": key})
            made.append(operator)
            operators.append(operator)
            keys[id(operator)] = key
        # Started one after the other, so that the first leads and the measurements start from a known leader.
        operators[0].start()
        wait_for(lambda: leads(operators[0]), timeout=30, what="the first operator to lead")
        operators[1].start()
        wait_for(lambda: "is standing by" in operators[1].log_text(), timeout=30,
                 what="the second operator to stand by")
        assert not leads(operators[1])
        return Pair(operators[0], operators[1], keys)

    yield make
    for operator in made:
        if operator.process is not None and operator.process.poll() is None:
            operator.process.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        operator.stop()


def lease_holder(admin: ApiClient, namespace: str, name: str) -> str:
    lease = kubernetes.client.CoordinationV1Api(admin).read_namespaced_lease(name, namespace)
    return str(lease.spec.holder_identity or "")


def log_of_both(pair: Pair) -> str:
    return pair.first.log_text() + "\n" + pair.second.log_text()


# --- the scenarios -------------------------------------------------------------------------------------------------


def test_two_operators_with_identical_arguments_act_as_one(
        admin: ApiClient, emulator: EmulatorThread, namespace: str, pair_factory: Callable[..., Pair],
        calls: CallLog, creations: CreationLog) -> None:
    """Create, model change, capacity change, delete and recreate of a dozen endpoints under two operators: every
    AWS call comes from the leader, each write happens exactly as often as one operator makes it, none is refused."""
    pair = pair_factory(namespace, FAST_LEASE)
    leader = pair.leader()
    assert leader is pair.first
    standby = pair.second
    assert election(standby)["leading"] is False and probe(standby)["reconcile-workers"]["standby"] is True
    count = 12
    churn = Churn(admin, namespace, count, prefix="ha", seed=18)
    churn.run(timeout=180)
    assert_invariants(admin, emulator, Scope([namespace], degraded={}), log_of_both(pair))
    assert calls.by(pair.key(standby)) == [], "the standby called AWS"
    assert creations.twice({"CreateEndpoint": 2}) == {}  # the churn recreates each endpoint once
    # Exactly one operator's writes: every endpoint created twice (create, recreate), one UpdateEndpoint for its
    # model change, one UpdateEndpointWeightsAndCapacities for its capacity change, one DeleteEndpoint.
    writes = calls.writes()
    assert {op: writes.get(op, 0) for op in ("CreateEndpoint", "UpdateEndpoint",
                                              "UpdateEndpointWeightsAndCapacities", "DeleteEndpoint")} == {
        "CreateEndpoint": 2 * count, "UpdateEndpoint": count, "UpdateEndpointWeightsAndCapacities": count,
        "DeleteEndpoint": count}, writes
    assert calls.writes(ok=False) == {}, "a write was refused (a duplicate?)"
    assert leader.metrics()["sagemaker_operator_leader"] == 1 and standby.metrics()["sagemaker_operator_leader"] == 0
    print(f"\nHA churn of {count} endpoints under two operators: {churn.summary()}")


def test_sigkill_of_the_leader_mid_churn_the_standby_takes_over_and_finishes(
        admin: ApiClient, emulator: EmulatorThread, namespace: str, pair_factory: Callable[..., Pair],
        calls: CallLog, creations: CreationLog) -> None:
    pair = pair_factory(namespace, FAST_LEASE)
    leader, standby = pair.first, pair.second
    count = 12
    churn = Churn(admin, namespace, count, prefix="kill", seed=19)
    measured: dict[str, float] = {}

    def kill_when_busy() -> None:
        if measured or sum(1 for ep in churn.endpoints if ep.step >= 1) < count // 3:
            return
        killed_wall = time.time()
        killed = time.monotonic()
        leader.kill()
        wait_for(lambda: leads(standby), timeout=LEASE_SECONDS + 15, interval=0.05,
                 what="the standby to take over from the killed leader")
        measured["takeover"] = time.monotonic() - killed
        measured["killed_wall"] = killed_wall

    churn.run(timeout=240, on_round=kill_when_busy)
    assert measured, "the leader was never killed"
    assert_invariants(admin, emulator, Scope([namespace], degraded={}), log_of_both(pair))
    assert creations.twice({"CreateEndpoint": 2}) == {}, "something was created twice"
    assert calls.by(pair.key(leader), since=measured["killed_wall"] + 0.5) == []
    # The standby made no AWS call before it led.
    first_call = min((c.at for c in calls.by(pair.key(standby))), default=None)
    assert first_call is not None and first_call >= measured["killed_wall"]
    print(f"\nSIGKILL of the leader: the standby led {measured['takeover']:.2f} s later "
          f"(lease {LEASE_SECONDS} s); churn {churn.summary()}")


def test_sigterm_of_the_leader_hands_over_at_once(
        admin: ApiClient, emulator: EmulatorThread, namespace: str, pair_factory: Callable[..., Pair]) -> None:
    """With the production defaults (15 s lease, 2 s retry): the leader releases the lease on SIGTERM, the standby
    takes it at its next attempt instead of after the lease duration."""
    pair = pair_factory(namespace, [])
    leader, standby = pair.first, pair.second
    objects = Objects(admin, namespace)
    create_chain(objects, "before")
    objects.wait_condition(ENDPOINT, "before", "Ready", timeout=60)
    started = time.monotonic()
    assert leader.process is not None
    leader.process.send_signal(signal.SIGTERM)
    wait_for(lambda: leads(standby), timeout=8, interval=0.05, what="the standby to lead after the SIGTERM")
    handover = time.monotonic() - started
    assert leader.process.wait(timeout=30) == 0
    assert "released lease" in leader.log_text()
    create_chain(objects, "after")
    objects.wait_condition(ENDPOINT, "after", "Ready", timeout=60)
    assert_invariants(admin, emulator, Scope([namespace], degraded={}), log_of_both(pair))
    print(f"\nSIGTERM of the leader: the standby led {handover:.2f} s later (lease 15 s, retry 2 s)")


def _audit_writes_after(audit_log: Path, user_agent_part: str, since: float) -> list[dict[str, Any]]:
    found = []
    for line in audit_log.read_text(errors="replace").splitlines():
        event = json.loads(line)
        if user_agent_part not in str(event.get("userAgent", "")):
            continue
        received = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
        if received.timestamp() >= since:
            found.append({k: event.get(k) for k in ("verb", "objectRef", "requestReceivedTimestamp",
                                                    "responseStatus")})
    return found


def test_a_frozen_leader_resumes_without_acting(
        admin: ApiClient, emulator: EmulatorThread, namespace: str, pair_factory: Callable[..., Pair],
        calls: CallLog, creations: CreationLog, audited: AuditedCluster) -> None:
    """SIGSTOP the leader while it works, past its lease: the standby leads; SIGCONT: the old leader's overdue
    timers and queued objects wake at once, yet it sends no AWS call and no Kubernetes write (audit log) before it
    holds the lease again, which it does not while the new leader renews."""
    pair = pair_factory(namespace, FAST_LEASE)
    frozen, standby = pair.first, pair.second
    frozen_identity = identity(frozen)
    objects = Objects(admin, namespace)
    names = [f"f{i}" for i in range(8)]
    for name in names:
        create_chain(objects, name)
    # Freeze it mid-work: some endpoints are being created (it polls them), others not yet Ready.
    wait_for(lambda: any(c.operation == "CreateEndpoint" for c in calls.by(pair.key(frozen))), timeout=60,
             interval=0.05, what="the leader to create a first endpoint")
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    wait_for(lambda: leads(standby), timeout=LEASE_SECONDS + 15, interval=0.05,
             what="the standby to take over from the frozen leader")
    takeover = time.monotonic() - stopped
    # Work for the new leader while the old one is still frozen, and then after it resumes.
    for name in names[:4]:
        objects.patch(MODEL, name, {"spec": {"primaryContainer": {"image": f"{IMAGE}-{name}:2"}}})
    resumed = time.time()
    frozen.process.send_signal(signal.SIGCONT)
    wait_for(lambda: frozen.log_text().count("is standing by for lease") >= 2, timeout=30,
             what="the resumed process to notice it lost the lease and stand by")
    assert not leads(frozen)
    wait_for(lambda: all(is_true(obj, "Ready") for obj in list_objects(admin, namespace, ENDPOINT))
             and len(list_objects(admin, namespace, ENDPOINT)) == len(names), timeout=120,
             what="every endpoint Ready under the new leader")
    assert_invariants(admin, emulator, Scope([namespace], degraded={}), log_of_both(pair))
    # A request the frozen process had already passed its last check for (botocore's before-send, the writer's
    # thread) but not yet put on the socket goes out when it resumes: in flight, decided before the freeze, and no
    # lease can recall it. Anything it started after resuming would come later than this grace, and none does.
    in_flight = calls.by(pair.key(frozen), since=resumed)
    assert calls.by(pair.key(frozen), since=resumed + IN_FLIGHT_GRACE) == [], "the resumed old leader called AWS"
    assert len(in_flight) <= 8, in_flight  # at most one per reconcile worker
    assert creations.twice({"CreateEndpoint": 2}) == {}  # the churn recreates each endpoint once
    assert lease_holder(admin, namespace, frozen.extra_args[0].split("=", 1)[1]) == identity(standby)
    if audited.audit_log is not None:
        assert _audit_writes_after(audited.audit_log, f"({frozen_identity})", resumed + IN_FLIGHT_GRACE) == [], \
            "the resumed old leader wrote to the Kubernetes API"
        # The audit log does identify its writes: it wrote before it was frozen.
        assert _audit_writes_after(audited.audit_log, f"({frozen_identity})", 0.0)
    refused = frozen.log_text().count("no longer leads")
    print(f"\nSIGSTOP of the leader: the standby led {takeover:.2f} s later (lease {LEASE_SECONDS} s); after SIGCONT "
          f"the old leader's fence refused {refused} reconciles; {len(in_flight)} AWS requests already in flight at "
          f"the freeze arrived on resume: {[c.operation for c in in_flight]}")
