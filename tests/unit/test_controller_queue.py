"""The controller's work queue on a real event loop, with a fake Kubernetes writer and fake reconcilers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import Controller, KindReconciler
from sagemaker_operator.kube import Conflict, KubeWriter
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    FINALIZER,
    MODEL,
    TRANSFORM_JOB,
    KubeObject,
    ObjectRef,
    ObjectStore,
)
from sagemaker_operator.status import EventRecord, Outcome

DEADLINE = 2.0
MODEL_REF = ObjectRef(MODEL, "ml", "m")
CONFIG_REF = ObjectRef(ENDPOINT_CONFIG, "ml", "cfg")


class Changes:
    """Set on every fake call, so that tests wait for a condition with a deadline instead of sleeping."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def changed(self) -> None:
        self._event.set()

    async def wait_for(self, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
        """Wait until ``condition`` holds, at most ``deadline`` seconds."""
        async with asyncio.timeout(deadline):
            while not condition():
                self._event.clear()
                await self._event.wait()


class FakeWriter:
    """Records the controller's writes in order, and answers them as the API server would: with the object as
    stored after the write (here with the same resourceVersion, which the tests' own events then supersede)."""

    def __init__(self, changes: Changes, store: ObjectStore) -> None:
        self.log: list[tuple[str, ObjectRef, Any]] = []
        self.changes = changes
        self.store = store

    def _record(self, what: str, ref: ObjectRef, item: Any) -> None:
        self.log.append((what, ref, item))
        self.changes.changed()

    def _answer(self, ref: ObjectRef, *, status: Mapping[str, Any] | None = None,
                finalizers: list[str] | None = None) -> dict[str, Any]:
        obj = self.store.get(ref)
        assert obj is not None, f"a write to {ref}, which is not in the store"
        answer = body(obj.kind, obj.name, obj.spec, generation=obj.generation, annotations=obj.annotations,
                      status={k: v for k, v in {**obj.status, **(status or {})}.items() if v is not None},
                      finalizers=tuple(obj.finalizers if finalizers is None else finalizers),
                      deleting=obj.deleting, namespace=obj.namespace, created=obj.created)
        answer["metadata"]["resourceVersion"] = obj.resource_version
        return answer

    async def patch_status(self, ref: ObjectRef, patch: dict[str, Any]) -> dict[str, Any]:
        self._record("status", ref, patch)
        return self._answer(ref, status=patch)

    async def add_finalizer(self, obj: KubeObject) -> dict[str, Any]:
        self._record("add_finalizer", obj.ref, None)
        return self._answer(obj.ref, finalizers=[*obj.finalizers, FINALIZER])

    async def remove_finalizer(self, obj: KubeObject) -> dict[str, Any]:
        self._record("remove_finalizer", obj.ref, None)
        return self._answer(obj.ref, finalizers=[f for f in obj.finalizers if f != FINALIZER])

    async def list_pages(self, plural: str, namespace: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        for page in ():
            yield page

    async def post_event(self, obj: KubeObject, record: EventRecord) -> None:
        self._record("event", obj.ref, record.reason)

    def post_event_soon(self, obj: KubeObject, record: EventRecord) -> None:
        # Recorded at once: the order of writes is what these tests look at.
        self._record("event", obj.ref, record.reason)

    async def flush_events(self) -> None:
        return None

    def defer_events_while(self, busy: Callable[[], bool]) -> None:
        return None

    def discard_events(self) -> None:
        return None

    def of(self, what: str, ref: ObjectRef) -> list[Any]:
        return [item for kind, r, item in self.log if kind == what and r == ref]


Behaviour = Callable[[KubeObject, int], Outcome]


class Recorder:
    """A fake reconciler for every kind: records each call, answers with ``behaviour`` (default: Ready)."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        self.calls: list[tuple[str, ObjectRef, int]] = []
        self.behaviour: dict[ObjectRef, Behaviour] = {}
        self.gate: dict[ObjectRef, asyncio.Event] = {}
        self.running = 0
        self.max_running = 0

    def runs(self, ref: ObjectRef, step: str = "reconcile") -> int:
        return sum(1 for s, r, _ in self.calls if r == ref and s == step)

    async def _step(self, step: str, obj: KubeObject) -> Outcome:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            self.calls.append((step, obj.ref, obj.generation))
            self.changes.changed()
            gate = self.gate.get(obj.ref)
            if gate is not None:
                await gate.wait()
            behaviour = self.behaviour.get(obj.ref)
            if behaviour is not None:
                return behaviour(obj, self.runs(obj.ref, step))
            if step == "finalize":
                return Outcome.progressing("Deleted", "gone", finalized=True)
            return Outcome.ready("Available", "ok", fields={"revision": str(obj.generation)})
        finally:
            self.running -= 1

    async def reconcile(self, ctx: ReconcileContext, obj: KubeObject) -> Outcome:
        return await self._step("reconcile", obj)

    async def finalize(self, ctx: ReconcileContext, obj: KubeObject) -> Outcome:
        return await self._step("finalize", obj)

    async def wait_for(self, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
        await self.changes.wait_for(condition, deadline)

    def order(self) -> list[ObjectRef]:
        return [ref for _, ref, _ in self.calls]


@asynccontextmanager
async def running(workers: int = 4, max_backoff: float = 0.05
                  ) -> AsyncIterator[tuple[Controller, Recorder, FakeWriter]]:
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, object()), store=ObjectStore(), settings=OperatorSettings())
    changes = Changes()
    recorder = Recorder(changes)
    writer = FakeWriter(changes, ctx.store)
    kind = KindReconciler(reconcile=recorder.reconcile, finalize=recorder.finalize)
    controller = Controller(ctx, cast(KubeWriter, writer), {MODEL: kind, ENDPOINT_CONFIG: kind, ENDPOINT: kind},
                            workers=workers, max_backoff=max_backoff)
    controller.start()
    try:
        yield controller, recorder, writer
    finally:
        await controller.stop()


VERSIONS = itertools.count(1)


def body(kind: str, name: str, spec: Mapping[str, Any] | None = None, *, generation: int = 1,
         status: Mapping[str, Any] | None = None, annotations: Mapping[str, str] | None = None,
         finalizers: tuple[str, ...] = (FINALIZER,), deleting: bool = False, namespace: str = "ml",
         created: str = "2026-11-01T00:00:00Z") -> dict[str, Any]:
    # Every body is a new version, as every write on an API server is: a resourceVersion names one version.
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}",
                                "generation": generation, "resourceVersion": str(next(VERSIONS)),
                                "annotations": dict(annotations or {}), "finalizers": list(finalizers),
                                "creationTimestamp": created}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-21T00:00:00Z"
    return {"kind": kind, "metadata": metadata, "spec": dict(spec or {}), "status": dict(status or {})}


CONFIG_SPEC = {"productionVariants": [{"variantName": "v", "modelRef": {"name": "m"}}]}


# --- reconcile and report --------------------------------------------------------------------------------------


async def test_new_object_is_reconciled_and_its_status_written() -> None:
    async with running() as (controller, recorder, writer):
        recorder.behaviour[MODEL_REF] = lambda obj, n: Outcome.ready(
            "Available", "ok", fields={"modelName": "m-1"}, events=[EventRecord("Created", "created m-1")])
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: len(writer.of("event", MODEL_REF)) == 1)
        [patch] = writer.of("status", MODEL_REF)
        assert patch["modelName"] == "m-1"
        assert patch["observedGeneration"] == 1
        assert {c["type"]: c["status"] for c in patch["conditions"]} == {
            "Ready": "True", "Progressing": "False", "Degraded": "False"}
        assert writer.of("event", MODEL_REF) == ["Created"]
        assert writer.of("add_finalizer", MODEL_REF) == []


async def test_finalizer_is_added_before_the_first_reconcile() -> None:
    async with running() as (controller, recorder, writer):
        controller.observe(body(MODEL, "m", finalizers=()), "ADDED")
        await recorder.wait_for(lambda: len(writer.of("status", MODEL_REF)) == 1)
        assert [kind for kind, ref, _ in writer.log if ref == MODEL_REF] == ["add_finalizer", "status"]
        assert recorder.runs(MODEL_REF) == 1


async def test_deleting_object_is_finalized_and_its_finalizer_removed() -> None:
    async with running() as (controller, recorder, writer):
        controller.observe(body(MODEL, "m", deleting=True), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF, "finalize") == 1)
        await recorder.wait_for(lambda: writer.of("remove_finalizer", MODEL_REF) != [])
        assert recorder.runs(MODEL_REF) == 0
        assert writer.of("status", MODEL_REF) == []


async def test_deleting_object_without_our_finalizer_is_left_alone() -> None:
    async with running(workers=1) as (controller, recorder, _):
        controller.observe(body(MODEL, "m", deleting=True, finalizers=("other/finalizer",)), "MODIFIED")
        controller.observe(body(MODEL, "marker"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(ObjectRef(MODEL, "ml", "marker")) == 1)
        assert recorder.calls == [("reconcile", ObjectRef(MODEL, "ml", "marker"), 1)]


# --- enqueue semantics -----------------------------------------------------------------------------------------


async def test_delayed_enqueue_runs_after_the_delay() -> None:
    async with running() as (controller, recorder, _):
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "m")))
        loop = asyncio.get_running_loop()
        started = loop.time()
        controller.enqueue(MODEL_REF, 0.05)
        assert controller.healthy()["delayed"] == 1
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)
        assert loop.time() - started >= 0.045
        assert controller.healthy()["delayed"] == 0


async def test_earlier_delayed_request_wins_over_a_later_one() -> None:
    async with running() as (controller, recorder, _):
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "m")))
        controller.enqueue(MODEL_REF, 60.0)
        controller.enqueue(MODEL_REF, 0.02)
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)
        # The 60 s request was replaced, not kept next to the earlier one.
        assert controller.healthy()["delayed"] == 0
        controller.enqueue(MODEL_REF, 0.02)
        controller.enqueue(MODEL_REF, 60.0)
        assert controller.healthy()["delayed"] == 1
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        assert controller.healthy()["delayed"] == 0


async def test_immediate_enqueue_cancels_a_delayed_one() -> None:
    async with running() as (controller, recorder, _):
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "m")))
        controller.enqueue(MODEL_REF, 60.0)
        controller.enqueue(MODEL_REF)
        assert controller.healthy()["delayed"] == 0
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)


async def test_delayed_enqueue_of_a_queued_object_is_ignored() -> None:
    async with running(workers=1) as (controller, recorder, _):
        blocker = ObjectRef(MODEL, "ml", "blocker")
        recorder.gate[blocker] = asyncio.Event()
        controller.observe(body(MODEL, "blocker"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(blocker) == 1)
        controller.observe(body(MODEL, "m"), "ADDED")
        controller.enqueue(MODEL_REF, 60.0)
        assert controller.healthy() == {"workers": 1, "queued": 1, "delayed": 0}
        recorder.gate[blocker].set()
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)


async def test_object_enqueued_while_running_runs_again_after_and_never_twice_at_once() -> None:
    async with running(workers=4) as (controller, recorder, _):
        gate = recorder.gate[MODEL_REF] = asyncio.Event()
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)
        controller.observe(body(MODEL, "m", generation=2), "MODIFIED")
        controller.observe(body(MODEL, "m", generation=3), "MODIFIED")
        controller.enqueue(MODEL_REF)
        assert controller.healthy()["queued"] == 0
        gate.set()
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        # The second run sees the latest snapshot; the three requests made while running are one run.
        assert recorder.calls[1] == ("reconcile", MODEL_REF, 3)
        controller.observe(body(MODEL, "marker"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(ObjectRef(MODEL, "ml", "marker")) == 1)
        assert recorder.runs(MODEL_REF) == 2
        assert recorder.max_running == 1


async def test_outcome_requeue_after_runs_the_object_again() -> None:
    async with running() as (controller, recorder, _):
        recorder.behaviour[MODEL_REF] = lambda obj, n: Outcome.progressing(
            "Creating", "wait", requeue_after=0.02 if n < 3 else None)
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 3)
        assert controller.healthy()["delayed"] == 0


# --- failures --------------------------------------------------------------------------------------------------


def _throttled(obj: KubeObject, n: int) -> Outcome:
    if n < 3:
        raise RetryLater(AwsFailure(FailureKind.THROTTLED, "ThrottlingException", "Rate exceeded", "DescribeEndpoint"))
    return Outcome.ready("InService", "ok")


async def test_retry_later_is_retried_with_backoff_without_a_status_write() -> None:
    async with running(max_backoff=0.02) as (controller, recorder, writer):
        recorder.behaviour[MODEL_REF] = _throttled
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 3)
        await recorder.wait_for(lambda: len(writer.of("status", MODEL_REF)) == 1)
        assert writer.of("status", MODEL_REF)[0]["conditions"][0]["status"] == "True"


def _crash(obj: KubeObject, n: int) -> Outcome:
    if n == 1:
        raise RuntimeError("bug")
    return Outcome.ready("Available", "ok")


async def test_unexpected_exception_is_retried_and_the_worker_survives() -> None:
    async with running(workers=1, max_backoff=0.02) as (controller, recorder, _):
        recorder.behaviour[MODEL_REF] = _crash
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        assert controller.healthy()["workers"] == 1


def test_backoff_grows_and_is_capped() -> None:
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, object()), store=ObjectStore(), settings=OperatorSettings())
    controller = Controller(ctx, cast(KubeWriter, object()), {}, max_backoff=10.0)
    delays = [controller._backoff(MODEL_REF) for _ in range(6)]
    for delay, base in zip(delays, [2, 4, 8, 10, 10, 10], strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert 1.6 <= controller._backoff(CONFIG_REF) <= 2.4


def _conflict(obj: KubeObject, n: int) -> Outcome:
    raise Conflict("status of SageMakerModel ml/m: 409 Conflict")


async def test_conflict_is_retried_after_a_delay() -> None:
    async with running() as (controller, recorder, writer):
        recorder.behaviour[MODEL_REF] = _conflict
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)
        # Nothing is awaited between the failed reconcile and the requeue: it is scheduled once the run is over.
        assert controller.healthy()["delayed"] == 1
        assert writer.of("status", MODEL_REF) == []


# --- observe: what wakes what ----------------------------------------------------------------------------------


async def test_status_change_wakes_dependents_but_not_the_object_itself() -> None:
    async with running(workers=1) as (controller, recorder, _):
        controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 1)
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 2)
        assert recorder.order() == [CONFIG_REF, MODEL_REF, CONFIG_REF]
        # The model's own status write: its config is woken (new model name), the model is not.
        controller.observe(body(MODEL, "m", status={"modelName": "m-1"}), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 3)
        assert recorder.runs(MODEL_REF) == 1
        # A resync with nothing changed wakes nobody.
        controller.observe(body(MODEL, "m", status={"modelName": "m-1"}), "MODIFIED")
        marker = ObjectRef(MODEL, "other", "marker")
        controller.observe(body(MODEL, "marker", namespace="other"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(marker) == 1)
        assert recorder.order() == [CONFIG_REF, MODEL_REF, CONFIG_REF, CONFIG_REF, marker]


async def test_essence_changes_enqueue_the_object_itself() -> None:
    async with running(workers=1) as (controller, recorder, _):
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1)
        controller.observe(body(MODEL, "m", generation=2), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        controller.observe(body(MODEL, "m", generation=2, annotations={"sagemaker.operator.dev/retry": "1"}),
                           "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 3)
        controller.observe(body(MODEL, "m", generation=2, annotations={"sagemaker.operator.dev/retry": "1"},
                                deleting=True), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF, "finalize") == 1)


# The current revision and three old ones: past the default limit of two, so a user letting go of one frees it.
HISTORY = {"revisions": [{"name": f"old-{i}"} for i in range(4)]}


async def _drained(controller: Controller, recorder: Recorder, name: str) -> None:
    """Wait until everything queued before now has run (one worker: a marker queued last runs last)."""
    marker = ObjectRef(MODEL, "elsewhere", name)
    controller.observe(body(MODEL, name, namespace="elsewhere"), "ADDED")
    await recorder.wait_for(lambda: recorder.runs(marker) == 1)


async def test_a_user_s_change_wakes_only_the_providers_that_wait_on_their_users() -> None:
    """An endpoint moves from one config to another. The old config keeps old revisions the endpoint may have let go
    of (garbage collection), and a config being deleted waits until no endpoint uses it: both are woken. A config
    with nothing to collect is not: the endpoint waits for it, not the other way round (that pass, for every status
    an endpoint wrote, was for nothing)."""
    async with running(workers=1) as (controller, recorder, _):
        fresh, going = ObjectRef(ENDPOINT_CONFIG, "ml", "cfg-2"), ObjectRef(ENDPOINT_CONFIG, "ml", "cfg-3")
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC, status=HISTORY)))
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg-2", CONFIG_SPEC)))
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg-3", CONFIG_SPEC, deleting=True)))
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}}), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 1)
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg-2"}}, generation=2), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 2)
        # The endpoint's status changes while it uses cfg-2: still nothing for cfg-2 to do.
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg-2"}}, generation=2,
                                status={"currentEndpointConfigName": "cfg-2-abc"}), "MODIFIED")
        await _drained(controller, recorder, "marker")
        assert recorder.runs(fresh) == 0
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg-3"}}, generation=3), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(going, "finalize") == 1)
        await _drained(controller, recorder, "marker-2")
        assert recorder.runs(fresh) == 0


async def test_a_provider_is_woken_only_past_its_own_history_limit() -> None:
    """Exactly the current revision plus ``revisionHistoryLimit`` kept: nothing a user lets go of can be collected,
    so a user's change does not wake it; one more, and it does. The limit is the provider's own when its spec sets
    one."""
    async with running(workers=1) as (controller, recorder, _):
        at_limit = {"revisions": [{"name": f"old-{i}"} for i in range(3)]}  # the default limit is 2
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC, status=at_limit)))
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}}), "ADDED")
        await _drained(controller, recorder, "marker")
        assert recorder.runs(CONFIG_REF) == 0
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg", {**CONFIG_SPEC,
                                                                                    "revisionHistoryLimit": 1},
                                                           status=at_limit)))
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}},
                                status={"currentEndpointConfigName": "old-0"}), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 1)


async def test_a_transform_job_s_run_ending_wakes_the_model_being_deleted_that_waits_for_it() -> None:
    """A model being deleted waits until no transform job runs on it: the job's status saying its run finished is
    what lets the deletion go on."""
    async with running(workers=1) as (controller, recorder, _):
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "m", deleting=True)))
        controller.observe(body(TRANSFORM_JOB, "job", {"modelRef": {"name": "m"}}, status={"modelName": "m-1"}),
                           "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF, "finalize") == 1)
        controller.observe(body(TRANSFORM_JOB, "job", {"modelRef": {"name": "m"}},
                                status={"modelName": "m-1", "finished": True}), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF, "finalize") == 2)


async def test_models_and_configs_keeping_extra_revisions_are_looked_at_once_per_resync() -> None:
    """A config that moved to another model can let go of an old revision of the first one later, when it collects
    its own old revision: no reference leads from it to that model any more, so the resync looks at every model and
    config that keeps more revisions than its limit."""
    async with running(workers=1) as (controller, recorder, _):
        kept = ObjectRef(MODEL, "ml", "kept")
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "kept", status=HISTORY)))
        controller.ctx.store.put(KubeObject.from_body(body(MODEL, "m")))
        controller.ctx.store.put(KubeObject.from_body(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC, status=HISTORY)))
        assert controller.requeue_collectable() == 2
        await recorder.wait_for(lambda: recorder.runs(kept) == 1 and recorder.runs(CONFIG_REF) == 1)
        await _drained(controller, recorder, "marker")
        assert recorder.runs(MODEL_REF) == 0


async def test_a_resource_created_again_under_its_name_wakes_what_waits_for_it() -> None:
    """A model revision deleted outside is created again under the name status already has: no status change, yet
    a config whose own creation AWS refused meanwhile has to look again. A pass that creates nothing wakes no one."""
    async with running(workers=1) as (controller, recorder, _):
        controller.observe(body(MODEL, "m"), "ADDED")
        controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "ADDED")
        await _drained(controller, recorder, "marker")
        runs = recorder.runs(CONFIG_REF)
        controller.enqueue(MODEL_REF)  # the same Ready outcome again: nothing new
        await _drained(controller, recorder, "marker-2")
        assert recorder.runs(CONFIG_REF) == runs
        recorder.behaviour[MODEL_REF] = lambda obj, n: Outcome.ready("Available", "ok", fields={"revision": "1"},
                                                                     created=True)
        controller.enqueue(MODEL_REF)
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == runs + 1)


async def test_a_provider_being_reconciled_is_woken_by_a_user_s_change() -> None:
    """Its pass read the uses before the change, and a revision it is adding is not in its status yet (which could
    make an old one collectable): it runs again."""
    async with running(workers=2) as (controller, recorder, _):
        gate = asyncio.Event()
        recorder.gate[CONFIG_REF] = gate
        endpoint = ObjectRef(ENDPOINT, "ml", "ep")
        controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 1)
        controller.observe(body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}},
                                status={"currentEndpointConfigName": "cfg-abc"}), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(endpoint) == 1)
        gate.set()
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 2)


async def test_deleted_object_wakes_its_dependents_and_is_forgotten() -> None:
    async with running(workers=1) as (controller, recorder, _):
        controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 1)
        controller.observe(body(MODEL, "m", status=HISTORY), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) == 2)
        controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "DELETED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        assert controller.ctx.store.get(CONFIG_REF) is None
        # A request for an object that is gone runs nothing.
        controller.enqueue(CONFIG_REF)
        await _drained(controller, recorder, "marker")
        assert recorder.runs(CONFIG_REF) == 2


async def test_deleting_the_claimant_of_an_endpoint_name_wakes_the_next_claimant() -> None:
    """Two SageMakerEndpoints claim AWS endpoint "shared": the second is Degraded ("already claimed"), without a
    requeue. When the first goes away, nothing else will ever reconcile the second: the deletion has to wake it."""
    async with running(workers=1) as (controller, recorder, _):
        first = ObjectRef(ENDPOINT, "team-a", "ep")
        second = ObjectRef(ENDPOINT, "team-b", "ep")
        spec = {"endpointName": "shared", "endpointConfigName": "hand-made", "region": "eu-west-1"}
        controller.observe(body(ENDPOINT, "ep", spec, namespace="team-a", created="2026-11-01T00:00:00Z"), "ADDED")
        controller.observe(body(ENDPOINT, "ep", spec, namespace="team-b", created="2026-11-02T00:00:00Z"), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(second) == 1)
        controller.observe(body(ENDPOINT, "ep", spec, namespace="team-a"), "DELETED")
        await recorder.wait_for(lambda: recorder.runs(second) == 2, deadline=0.5)
        assert recorder.runs(first) == 1


async def test_an_unreported_outcome_writes_nothing_and_keeps_its_requeue() -> None:
    async with running() as (controller, recorder, writer):
        recorder.behaviour[MODEL_REF] = lambda obj, n: Outcome.ready("Available", "ok") if n > 1 else \
            Outcome.progressing("WaitingForModel", "brief", requeue_after=0.05, report=False,
                                events=[EventRecord("Never", "posted")])
        controller.observe(body(MODEL, "m"), "ADDED")
        await recorder.wait_for(lambda: len(writer.of("status", MODEL_REF)) == 1)
        assert recorder.runs(MODEL_REF) == 2
        assert writer.of("event", MODEL_REF) == []
        [patch] = writer.of("status", MODEL_REF)
        assert patch["conditions"][0]["reason"] == "Available"


async def test_the_watch_echo_of_a_version_already_held_is_not_taken_again() -> None:
    async with running() as (controller, recorder, _):
        controller.observe(body(MODEL, "m", status={"modelName": "m-1"}), "ADDED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 1 and writer_done(controller))
        held = controller.ctx.store.get(MODEL_REF)
        assert held is not None
        # The version held again (the watch delivering what a write's answer brought already): nothing is copied
        # or compared, the stored snapshot stays the very same object.
        echo = body(MODEL, "m", status={"modelName": "m-1"})
        echo["metadata"]["resourceVersion"] = held.resource_version
        controller.observe(echo, "MODIFIED")
        assert controller.ctx.store.get(MODEL_REF) is held
        controller.observe(body(MODEL, "m", generation=2, status={"modelName": "m-1"}), "MODIFIED")
        await recorder.wait_for(lambda: recorder.runs(MODEL_REF) == 2)
        assert controller.ctx.store.get(MODEL_REF) is not held


def writer_done(controller: Controller) -> bool:
    """Whether the controller has nothing running (its status write, absorbed, is in the store)."""
    return controller.healthy()["queued"] == 0 and not controller._running


async def _hold_the_only_worker(controller: Controller, recorder: Recorder) -> ObjectRef:
    """Model m and config cfg (which uses it) reconciled and idle; then the only worker held on another model, so
    that what is queued next waits in the queue. Returns that model; set its gate to let the worker go."""
    controller.observe(body(MODEL, "m"), "ADDED")
    controller.observe(body(ENDPOINT_CONFIG, "cfg", CONFIG_SPEC), "ADDED")
    await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) >= 1 and recorder.running == 0
                            and controller.healthy()["queued"] == 0)
    busy = ObjectRef(MODEL, "ml", "busy")
    recorder.gate[busy] = asyncio.Event()
    controller.observe(body(MODEL, "busy"), "ADDED")
    await recorder.wait_for(lambda: recorder.runs(busy) == 1)
    return busy


async def test_a_dependency_s_new_status_puts_what_waits_for_it_ahead_of_the_queue() -> None:
    async with running(workers=1) as (controller, recorder, _writer):
        busy = await _hold_the_only_worker(controller, recorder)
        others = [ObjectRef(MODEL, "ml", f"other-{i}") for i in range(3)]
        for ref in others:
            controller.observe(body(MODEL, ref.name), "ADDED")
        # The model's new revision (a new status): the config that uses it goes first.
        controller.observe(body(MODEL, "m", status={"revision": "2"}), "MODIFIED")
        recorder.gate[busy].set()
        await recorder.wait_for(lambda: all(recorder.runs(ref) == 1 for ref in others))
        after = recorder.order()[recorder.order().index(busy) + 1:]
        assert after == [CONFIG_REF, *others], after


async def test_a_dependency_s_new_spec_queues_what_waits_for_it_in_turn() -> None:
    async with running(workers=1) as (controller, recorder, _writer):
        busy = await _hold_the_only_worker(controller, recorder)
        other = ObjectRef(MODEL, "ml", "other")
        controller.observe(body(MODEL, "other"), "ADDED")
        # A new spec: the model itself must act first; the config could only find it not Ready yet.
        held = controller.ctx.store.get(MODEL_REF)
        assert held is not None
        controller.observe(body(MODEL, "m", {"image": "b"}, generation=2, status=held.status), "MODIFIED")
        configs = recorder.runs(CONFIG_REF)
        recorder.gate[busy].set()
        await recorder.wait_for(lambda: recorder.runs(CONFIG_REF) > configs)
        after = recorder.order()[recorder.order().index(busy) + 1:]
        assert after[:3] == [other, MODEL_REF, CONFIG_REF], after
