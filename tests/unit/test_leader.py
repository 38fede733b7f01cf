"""Leader election without a server: the pure decision, the elector against an in-memory Lease with a fake clock,
the fence of the Kubernetes writer, and the controller standing by and taking over."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.kube import KubeWriter
from sagemaker_operator.leader import (
    Action,
    ElectionConfig,
    LeaderElector,
    LeaseRecord,
    NotLeading,
    Observation,
    decide,
    default_namespace,
    micro_time,
    next_record,
    observe,
    released_record,
)
from sagemaker_operator.reconcile.objects import MODEL, KubeObject, ObjectRef
from sagemaker_operator.status import EventRecord
from tests.unit.test_controller_queue import body, running

WALL = datetime.datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=datetime.UTC)
HELD = LeaseRecord("a", 15, "t0", "t1", 3)


# --- the pure decision ---------------------------------------------------------------------------------------------


def test_no_lease_is_created() -> None:
    assert decide(None, 0.0, "me") is Action.CREATE
    assert decide(Observation(None, "", 0.0), 100.0, "me") is Action.CREATE


def test_a_lease_held_by_another_is_waited_for_until_it_expires_by_the_observers_clock() -> None:
    seen = Observation(HELD, "7", observed_at=100.0)
    assert decide(seen, 100.0, "me") is Action.WAIT
    assert decide(seen, 114.9, "me") is Action.WAIT
    assert decide(seen, 115.0, "me") is Action.ACQUIRE


def test_expiry_restarts_only_when_the_record_changes() -> None:
    first = observe(None, HELD, "7", now=100.0)
    # Read again later, unchanged (the holder is gone): the clock keeps running from the first sight.
    again = observe(first, HELD, "7", now=110.0)
    assert again.observed_at == 100.0
    assert decide(again, 115.0, "me") is Action.ACQUIRE
    # A renewal changes renewTime: a new record, a new start.
    renewed = observe(again, LeaseRecord("a", 15, "t0", "t2", 3), "8", now=112.0)
    assert renewed.observed_at == 112.0 and renewed.resource_version == "8"
    assert decide(renewed, 115.0, "me") is Action.WAIT


def test_the_renew_time_written_by_another_clock_is_never_used() -> None:
    # A renewTime far in the past (a skewed clock) does not make the lease expired: only the observer's clock counts.
    ancient = LeaseRecord("a", 15, "2001-01-01T00:00:00.000000Z", "2001-01-01T00:00:00.000000Z", 0)
    assert decide(observe(None, ancient, "1", now=50.0), 51.0, "me") is Action.WAIT


def test_a_released_lease_is_taken_at_once() -> None:
    released = released_record(HELD, WALL)
    assert released.holder == "" and released.lease_duration_seconds == 1 and released.transitions == 3
    assert decide(Observation(released, "9", observed_at=100.0), 100.0, "me") is Action.ACQUIRE


def test_own_lease_is_renewed_even_late() -> None:
    assert decide(Observation(LeaseRecord("me", 15), "1", 0.0), 1000.0, "me") is Action.RENEW


def test_records_follow_client_go() -> None:
    created = next_record(None, Action.CREATE, "me", 15, WALL)
    assert created == LeaseRecord("me", 15, "2026-01-02T03:04:05.678900Z", "2026-01-02T03:04:05.678900Z", 0)
    acquired = next_record(HELD, Action.ACQUIRE, "me", 15, WALL)
    assert acquired.holder == "me" and acquired.transitions == 4 and acquired.acquire_time == micro_time(WALL)
    renewed = next_record(LeaseRecord("me", 15, "t0", "t1", 4), Action.RENEW, "me", 15, WALL)
    assert renewed.acquire_time == "t0" and renewed.renew_time == micro_time(WALL) and renewed.transitions == 4
    with pytest.raises(ValueError, match="nothing to write"):
        next_record(HELD, Action.WAIT, "me", 15, WALL)
    assert LeaseRecord.from_spec(created.to_spec()) == created
    assert released_record(HELD, WALL).to_spec()["holderIdentity"] is None


@pytest.mark.parametrize(("lease", "renew", "retry", "message"), [
    (10, 10.0, 2.0, "longer than the renew deadline"),
    (15, 2.0, 2.0, "longer than 1.2 x the retry period"),
])
def test_durations_that_break_the_fencing_argument_are_refused(lease: int, renew: float, retry: float,
                                                               message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ElectionConfig("ns", identity="me", lease_duration=lease, renew_deadline=renew, retry_period=retry)


def test_default_namespace_is_the_pods(tmp_path: Path) -> None:
    account = tmp_path / "namespace"
    assert default_namespace({"POD_NAMESPACE": "ops"}, account) == "ops"
    assert default_namespace({}, account) == "default"
    account.write_text("from-account\n")
    assert default_namespace({}, account) == "from-account"


# --- the elector against an in-memory Lease, on a fake clock -------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LeaseServer:
    """One Lease object with resourceVersions, as the API server keeps it; can be made to fail."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.down = False
        self.writes: list[str] = []

    def attach(self, elector: LeaderElector) -> None:
        async def read() -> dict[str, Any] | None:
            self._check()
            return None if self.lease is None else {**self.lease}

        async def create(record: LeaseRecord) -> dict[str, Any]:
            self._check()
            if self.lease is not None:
                raise ApiException(status=409, reason="AlreadyExists")
            return self._store(record, elector)

        async def replace(record: LeaseRecord, resource_version: str) -> dict[str, Any]:
            self._check()
            assert self.lease is not None
            if resource_version != self.lease["metadata"]["resourceVersion"]:
                raise ApiException(status=409, reason="Conflict")
            return self._store(record, elector)

        elector._read = read  # type: ignore[method-assign]
        elector._create = create  # type: ignore[method-assign]
        elector._replace = replace  # type: ignore[method-assign]

    def _check(self) -> None:
        if self.down:
            raise ApiException(status=503, reason="Service Unavailable")

    def _store(self, record: LeaseRecord, elector: LeaderElector) -> dict[str, Any]:
        self.version += 1
        self.writes.append(elector.config.identity)
        self.lease = {"metadata": {"resourceVersion": str(self.version)}, "spec": record.to_spec()}
        return {**self.lease}

    @property
    def holder(self) -> str:
        return LeaseRecord.from_spec((self.lease or {}).get("spec")).holder


def elector(server: LeaseServer, clock: FakeClock, identity: str) -> LeaderElector:
    config = ElectionConfig("ns", "lease", identity, lease_duration=15, renew_deadline=10, retry_period=2)
    # The wall clock moves with the fake clock: each renewal writes a new renewTime, as it does for real.
    made = LeaderElector(cast(kubernetes.client.ApiClient, None), config, clock=clock,
                         wall_clock=lambda: WALL + datetime.timedelta(seconds=clock.now))
    server.attach(made)
    return made


async def test_one_of_two_candidates_leads_and_the_other_takes_over_only_after_expiry() -> None:
    server, clock = LeaseServer(), FakeClock()
    a, b = elector(server, clock, "a"), elector(server, clock, "b")
    assert await a._attempt() and a.is_leading()
    assert not await b._attempt() and not b.is_leading()
    assert b.holder == "a"
    clock.now += 14.9  # a is gone; b saw the record 14.9 s ago
    assert not await b._attempt()
    assert not a.is_leading(), "the leader's fence closed at the renew deadline, long before others may start"
    with pytest.raises(NotLeading):
        a.fence()
    clock.now += 0.1
    assert await b._attempt() and b.is_leading()
    assert LeaseRecord.from_spec(server.lease["spec"] if server.lease else {}).transitions == 1


async def test_renewals_keep_the_lease_and_a_stale_write_loses_the_race() -> None:
    server, clock = LeaseServer(), FakeClock()
    a, b = elector(server, clock, "a"), elector(server, clock, "b")
    assert await a._attempt()
    assert not await b._attempt()
    for _ in range(20):  # 40 s of renewals every 2 s: b keeps seeing new records and never takes over
        clock.now += 2
        assert await a._attempt()
        assert not await b._attempt()
    assert server.holder == "a" and a.is_leading()
    # b decides on an old read while a renews in between: the update carries a stale resourceVersion.
    clock.now += 16
    found = await b._read()
    assert found is not None
    assert await a._attempt()
    with pytest.raises(ApiException) as refused:
        await b._replace(next_record(None, Action.CREATE, "b", 15, WALL), found["metadata"]["resourceVersion"])
    assert refused.value.status == 409


async def test_a_leader_that_cannot_renew_steps_down_within_the_renew_deadline() -> None:
    server, clock = LeaseServer(), FakeClock()
    a = elector(server, clock, "a")
    events: list[str] = []

    async def started() -> None:
        events.append("started")

    async def stopped() -> None:
        events.append("stopped")

    assert await a._attempt()
    a._on_started, a._on_stopped = started, stopped
    a._acting = True
    server.down = True
    clock.now += 9.9
    assert a.is_leading() and not await a._attempt()
    clock.now += 0.1
    assert not await a._renew(), "the renew deadline has passed"
    await a._step_down("test")
    assert events == ["stopped"] and not a.is_leading()
    # The API server comes back and nobody took the lease: the same process renews and leads again.
    server.down = False
    assert await a._attempt() and a.is_leading()


async def test_release_hands_over_at_the_next_retry() -> None:
    server, clock = LeaseServer(), FakeClock()
    a, b = elector(server, clock, "a"), elector(server, clock, "b")
    assert await a._attempt()
    assert not await b._attempt()
    await a.release()
    assert server.holder == "" and not a.is_leading()
    assert await b._attempt(), "a released lease is free at once, not after its duration"
    await a.release()  # not the holder any more: nothing written
    assert server.writes == ["a", "a", "b"]


async def test_run_calls_back_on_gaining_and_on_cancel() -> None:
    server = LeaseServer()
    a = LeaderElector(cast(kubernetes.client.ApiClient, None),
                      ElectionConfig("ns", "lease", "a", lease_duration=2, renew_deadline=1.0, retry_period=0.05))
    server.attach(a)
    gained = asyncio.Event()
    events: list[str] = []

    async def started() -> None:
        events.append("started")
        gained.set()

    async def stopped() -> None:
        events.append("stopped")

    task = asyncio.create_task(a.run(started, stopped))
    async with asyncio.timeout(5):
        await gained.wait()
    assert a.status() == {"identity": "a", "leading": True, "holder": "a", "lease": "ns/lease"}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert events == ["started", "stopped"] and not a.is_leading()


# --- the fences and the controller ---------------------------------------------------------------------------------


async def test_kube_writer_refuses_every_write_while_not_leading() -> None:
    sent: list[str] = []

    def refuse() -> None:
        raise NotLeading("standby")

    class Pool:
        def request(self, *args: Any, **kwargs: Any) -> None:
            sent.append("sent")

    writer = KubeWriter(kubernetes.client.ApiClient(), fence=refuse)
    writer._pool = Pool()  # type: ignore[assignment]
    try:
        with pytest.raises(NotLeading):
            await writer.patch_status(ObjectRef(MODEL, "ml", "m"), {"region": "us-east-1"})
        with pytest.raises(NotLeading):
            await writer.post_event(KubeObject.from_body(body(MODEL, "m")), EventRecord("Created", "created"))
    finally:
        writer.close()
    assert sent == []


async def test_controller_stands_by_and_takes_over_with_everything_queued() -> None:
    async with running() as (controller, recorder, writer):
        await controller.pause()
        assert not controller.running
        assert controller.healthy()["standby"] is True
        controller.observe(body(MODEL, "m"), "ADDED")  # the watch keeps feeding the standby's store
        assert controller.healthy()["queued"] == 1
        assert recorder.runs(ObjectRef(MODEL, "ml", "m")) == 0 and writer.log == []
        controller.start()
        assert controller.healthy()["workers"] == 4
        await recorder.wait_for(lambda: recorder.runs(ObjectRef(MODEL, "ml", "m")) == 1)
