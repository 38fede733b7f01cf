"""The reconcile loop: a keyed work queue fed by kopf's watches, drained by a few workers.

Why a queue of our own next to kopf: kopf's stateful handlers keep their retry state in the object (one Kubernetes
write per retry) and cannot wake one object when another changes. Here kopf's watch handlers only record the new
snapshot and enqueue the object and the objects that depend on it (a model change wakes its endpoint configs at
once, in memory). Each reconcile is level-triggered: it looks at the latest snapshot, never at the event that woke
it, so a crash or a missed event is healed by the next pass. Waiting is a requeue with a delay, never a sleep.

One object is never reconciled by two workers at once; an object enqueued while it is being reconciled is run
again right after.

Under leader election (leader.py) the controller runs as a hot standby: the watches keep feeding :meth:`observe` and
the queue, but the workers, and so every AWS call and Kubernetes write, run only between :meth:`start` (the lease
was gained) and :meth:`pause` (it was lost).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api.kinds import kind_named
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.kube import Conflict, KubeUnavailable, KubeWriter
from sagemaker_operator.leader import NotLeading
from sagemaker_operator.metrics import (
    DEGRADED,
    DRIFT_FOUND,
    DRIFT_SWEEPS,
    ENDPOINTS_BY_STATUS,
    QUEUE_DEPTH,
    RECONCILE_SECONDS,
    RECONCILES,
)
from sagemaker_operator.reconcile.context import ReconcileContext
from sagemaker_operator.reconcile.drift import (
    SWEPT_KINDS,
    TAGGED_TYPES,
    by_place,
    kinds_present,
    list_place,
    plan_sweep,
)
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    FINALIZER,
    INFERENCE_COMPONENT,
    MODEL,
    PLURALS,
    TRANSFORM_JOB,
    KubeObject,
    ObjectRef,
    ObjectStore,
    references,
)
from sagemaker_operator.reconcile.revisions import may_collect
from sagemaker_operator.status import Outcome, build_status, status_patch

logger = logging.getLogger(__name__)

Step = Callable[[ReconcileContext, KubeObject], Awaitable[Outcome]]
# The first drift check by the page comes within this many seconds of leading (or the resync, if shorter): a new
# leader learns soon what changed while no one was looking, for a few calls per hundred resources.
FIRST_SWEEP_SECONDS = 15.0


@dataclass(frozen=True)
class KindReconciler:
    """The two entry points of one kind: bring AWS to the spec, and clean up on deletion."""

    reconcile: Step
    finalize: Step


def _essence(obj: KubeObject) -> tuple[Any, ...]:
    """What, when changed, needs the object itself reconciled (its own status and finalizer writes do not)."""
    return (obj.generation, tuple(sorted(obj.annotations.items())), obj.deleting)


def _older(candidate: KubeObject, stored: KubeObject) -> bool:
    """Whether ``candidate`` is an older version than the stored one.

    The store is fed by the watch and by the answers to the operator's own writes, which can overtake the watch.
    resourceVersions are opaque in general but are etcd revisions on every API server; anything else is accepted.
    """
    try:
        return int(candidate.resource_version) < int(stored.resource_version)
    except ValueError:
        return False


def _echo(body: Mapping[str, Any], store: ObjectStore) -> bool:
    """Whether the store holds this very version of the object already: the watch's echo of one of the operator's
    own writes, whose answer was taken in when it was made (a resourceVersion names one version of one object)."""
    metadata = body.get("metadata") or {}
    version = metadata.get("resourceVersion")
    if not version:
        return False
    stored = store.get(ObjectRef(str(body.get("kind", "")), str(metadata.get("namespace", "")),
                                 str(metadata.get("name", ""))))
    return stored is not None and stored.resource_version == str(version)


URGENT, NORMAL = 0, 1  # queue priorities
# How far down the chain of dependencies each kind is: a model's new revision is what its configs (and components
# and transform jobs) wait for, a config's what its endpoints wait for, an endpoint's what its components wait for.
DEPTH = {MODEL: 0, ENDPOINT_CONFIG: 1, TRANSFORM_JOB: 1, ENDPOINT: 2, INFERENCE_COMPONENT: 3}


class Controller:
    """Owns the work queue and the workers; the kopf handlers call :meth:`observe`."""

    def __init__(self, ctx: ReconcileContext, writer: KubeWriter, reconcilers: Mapping[str, KindReconciler], *,
                 workers: int = 8, max_backoff: float = 300.0) -> None:
        self.ctx = ctx
        self.writer = writer
        self.reconcilers = dict(reconcilers)
        self.worker_count = workers
        self.max_backoff = max_backoff
        # (priority, arrival, ref): URGENT before NORMAL, first come first served within each. An object queued
        # again at a higher priority has a second entry; the one taken first runs it, the other is skipped.
        self._queue: asyncio.PriorityQueue[tuple[int, int, ObjectRef]] = asyncio.PriorityQueue()
        self._arrivals = itertools.count()
        self._queued: dict[ObjectRef, int] = {}  # queued objects, at their priority
        self._running: set[ObjectRef] = set()
        self._dirty: dict[ObjectRef, int] = {}  # asked for again while running, and at which priority
        self._delayed: dict[ObjectRef, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[ObjectRef, int] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._rng = random.Random()
        self.last_progress = time.monotonic()

    # --- feeding the queue -------------------------------------------------------------------------------------

    def observe(self, body: Mapping[str, Any], event_type: str | None) -> None:
        """Record a watch event and enqueue what it affects."""
        if event_type != "DELETED" and _echo(body, self.ctx.store):
            return
        self._record(body, event_type)

    def _record(self, body: Mapping[str, Any], event_type: str | None) -> None:
        store = self.ctx.store
        obj = KubeObject.from_body(body)
        if event_type == "DELETED":
            previous = store.remove(obj.ref)
            self.ctx.forget(obj.ref)
            self._count_endpoint(previous, None)
            self._count_degraded(previous, None)
            gone = previous or obj
            self._wake(self._dependents_of(gone, claims=True) | self._providers_waiting_on(gone))
            return
        current = store.get(obj.ref)
        if current is not None and _older(obj, current):
            return
        previous = store.put(obj)
        self._count_endpoint(previous, obj)
        self._count_degraded(previous, obj)
        if previous is None or _essence(previous) != _essence(obj):
            self.enqueue(obj.ref)
        if previous is None or previous.status != obj.status or previous.spec != obj.spec or obj.deleting:
            # Claims on an AWS name change with the spec or a deletion, never with status.
            claims = previous is None or previous.spec != obj.spec or obj.deleting
            affected = self._dependents_of(obj, claims=claims) | self._providers_waiting_on(obj)
            if previous is not None:
                affected |= self._dependents_of(previous, claims=claims) | self._providers_waiting_on(previous)
            # A new status is a step done (a model revision created, a config Ready): what waits for it downstream
            # goes ahead of the queue. A new spec is not: its consumers could only find it not Ready yet.
            self._wake(affected, after=obj if previous is not None and previous.status != obj.status else None)

    def _absorb(self, answer: Mapping[str, Any]) -> None:
        """Take the API server's answer to one of our writes into the store, as if the watch had delivered it.

        Only for objects still in the store: the watch may have reported the object deleted while the write was
        under way, and re-adding it would leave a ghost that others wait for.
        """
        metadata = answer.get("metadata") or {}
        ref = ObjectRef(str(answer.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        if answer and self.ctx.store.get(ref) is not None:
            self._record(answer, "MODIFIED")

    def _dependents_of(self, obj: KubeObject, *, claims: bool) -> set[ObjectRef]:
        """Objects whose reconcile waits for ``obj``: the configs (and components and transform jobs) that use a
        model, the endpoints that use a config, the components on an endpoint, and, with ``claims``, the other
        endpoints claiming the same AWS endpoint name (one of them may take it over now)."""
        store, ns = self.ctx.store, obj.namespace
        if obj.kind == MODEL:
            return ({c.ref for c in store.configs_referencing_model(ns, obj.name)}
                    | {c.ref for c in store.components_using_model(ns, obj.name)}
                    | {j.ref for j in store.transform_jobs_using_model(ns, obj.name)})
        if obj.kind == ENDPOINT_CONFIG:
            return {e.ref for e in store.endpoints_referencing_config(ns, obj.name)}
        if obj.kind == ENDPOINT:
            settings = self.ctx.settings
            rivals = {e.ref for e in store.endpoints_claiming(
                str(obj.spec.get("region") or settings.default_region or ""), str(obj.spec.get("endpointName")
                                                                                  or obj.name),
                settings.default_region or "") if e.ref != obj.ref} if claims else set()
            return rivals | {c.ref for c in store.components_on_endpoint(ns, obj.name)}
        return set()

    def _providers_waiting_on(self, obj: KubeObject) -> set[ObjectRef]:
        """The objects ``obj`` references (the models of a config, the config of an endpoint, ...) that wait on
        their users: one being deleted (it waits until no user is left), or one keeping more old AWS revisions than
        its limit, which a user may have let go of (garbage collection). Any other provider has nothing to do when
        a user changes: waking it was a pass for nothing, for every config and endpoint status written. One being
        reconciled is woken too: its pass read the uses before this change, and the revision it may be adding is
        not in its status yet. (A user that no longer references a provider can still let go of one of its old
        revisions, kept in the user's own history: :meth:`requeue_collectable` finds those once per resync.)"""
        return {ref for ref in references(obj) if (provider := self.ctx.store.get(ref)) is not None
                and (ref in self._running or provider.deleting
                     or self._may_collect(provider))}

    def _may_collect(self, obj: KubeObject) -> bool:
        """Whether ``obj`` keeps more old AWS revisions than its limit: one a user lets go of can be collected."""
        return may_collect(obj.status, self.ctx.history_limit(obj))

    def _wake(self, refs: Iterable[ObjectRef], after: KubeObject | None = None) -> None:
        """Queue the objects of ``refs`` still in the store; those downstream of ``after`` (a dependency whose status
        just changed) ahead of the rest: a change then travels down its chain (model, config, endpoint) at once,
        instead of joining the back of the queue at every step while many objects change together."""
        depth = DEPTH.get(after.kind) if after is not None else None
        for ref in refs:
            if self.ctx.store.get(ref) is not None:
                self.enqueue(ref, urgent=depth is not None and DEPTH.get(ref.kind, 0) > depth)

    def enqueue(self, ref: ObjectRef, delay: float = 0.0, *, urgent: bool = False) -> None:
        """Reconcile ``ref`` after ``delay`` seconds (at once if 0); an earlier request wins over a later one, and
        an ``urgent`` one (immediate only) goes ahead of the others queued."""
        loop = asyncio.get_running_loop()
        if delay <= 0:
            priority = URGENT if urgent else NORMAL
            pending = self._delayed.pop(ref, None)
            if pending:
                pending[1].cancel()
            if ref in self._running:
                self._dirty[ref] = min(priority, self._dirty.get(ref, NORMAL))
            elif self._queued.get(ref, NORMAL + 1) > priority:
                self._queued[ref] = priority
                self._queue.put_nowait((priority, next(self._arrivals), ref))
                QUEUE_DEPTH.set(len(self._queued))
            return
        due = loop.time() + delay
        pending = self._delayed.get(ref)
        if ref in self._queued or (pending and pending[0] <= due):
            return
        if pending:
            pending[1].cancel()
        self._delayed[ref] = (due, loop.call_at(due, self._fire, ref))

    def _fire(self, ref: ObjectRef) -> None:
        self._delayed.pop(ref, None)
        self.enqueue(ref)

    # --- running -----------------------------------------------------------------------------------------------

    async def prime(self, namespaces: Iterable[str | None]) -> int:
        """Fill the store with every object before the workers start, and queue them all.

        Without this, a restarted operator reconciles configs before their models have arrived from the watch,
        reports them waiting or invalid for a moment, and bunches its drift checks. Returns the number of objects.
        """
        for kind in self.reconcilers:
            for namespace in namespaces:
                async for page in self.writer.list_pages(PLURALS[kind], namespace):
                    for body in page:
                        body.setdefault("kind", kind)
                        obj = KubeObject.from_body(body)
                        # Counted here: the watch then delivers the same objects, unchanged, and counts nothing.
                        previous = self.ctx.store.put(obj)
                        self._count_endpoint(previous, obj)
                        self._count_degraded(previous, obj)
        refs = [ref for kind in self.reconcilers for ref in (o.ref for o in self.ctx.store.of_kind(kind))]
        for ref in refs:
            self.enqueue(ref)
        return len(refs)

    @property
    def running(self) -> bool:
        """Whether the workers run (this process leads, or runs without leader election)."""
        return bool(self._workers)

    def start(self) -> None:
        """Start the workers on the running event loop, and queue every object in the store.

        Level-triggered: a process that (again) becomes the leader looks at everything once, since reconciles that
        a lost lease cancelled, or requeues it dropped, are not in the queue any more.
        """
        if self._workers:
            return
        # Events wait while work is queued: a burst of changes reaches its AWS calls first.
        self.writer.defer_events_while(lambda: bool(self._queued))
        refs = [o.ref for kind in self.reconcilers for o in self.ctx.store.of_kind(kind)]
        self.ctx.new_term(refs)
        for ref in refs:
            self.enqueue(ref)
        self._workers = [asyncio.create_task(self._worker(), name=f"reconcile-worker-{i}")
                         for i in range(self.worker_count)]
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="drift-sweep")

    async def pause(self) -> None:
        """Stop the workers but keep the store, the queue and the delayed requeues (the lease was lost: stand by).

        A reconcile under way is cancelled; it is idempotent and runs again when this process leads again. Events
        not posted yet are dropped: a standby may not write.
        """
        await self._halt()
        self.writer.discard_events()

    async def _halt(self) -> None:
        workers, self._workers = self._workers, []
        if self._sweeper is not None:
            workers.append(self._sweeper)
            self._sweeper = None
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def stop(self) -> None:
        """Stop the workers (a reconcile under way is cancelled; it is idempotent and will run again)."""
        for _, handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        await self._halt()
        await self.writer.flush_events()

    def healthy(self) -> dict[str, Any]:
        """For the liveness probe: are the workers alive, and how much is waiting. A standby (no workers, by
        design) is healthy: restarting it would gain nothing."""
        if not self._workers:
            return {"workers": 0, "standby": True, "queued": len(self._queued), "delayed": len(self._delayed)}
        alive = sum(1 for task in self._workers if not task.done())
        if alive < self.worker_count:
            raise RuntimeError(f"only {alive} of {self.worker_count} reconcile workers are alive")
        return {"workers": alive, "queued": len(self._queued), "delayed": len(self._delayed)}

    async def _sweep_forever(self) -> None:
        """Drift checks by the page, and a look for revisions to collect (:meth:`requeue_collectable`), every resync
        (with jitter), while this process leads."""
        delay = self.ctx.rng.uniform(0.0, min(self.ctx.settings.resync_seconds, FIRST_SWEEP_SECONDS))
        while True:
            await asyncio.sleep(delay)
            try:
                await self.sweep()
            except (asyncio.CancelledError, NotLeading):
                raise
            except Exception:
                logger.exception("drift check by the page failed unexpectedly; trying again at the next resync")
            self.requeue_collectable()
            delay = self.ctx.resync_delay()

    async def sweep(self) -> int:
        """One drift check by the page of every place (see :mod:`~sagemaker_operator.reconcile.drift`): the objects
        found different are queued to be described. Returns how many were."""
        ctx = self.ctx
        kinds = [kind for kind in SWEPT_KINDS if kind in self.reconcilers]
        places = by_place([(obj, ctx.place(obj)) for kind in kinds for obj in ctx.store.of_kind(kind)])
        found = 0
        for target, members in places.items():
            tags = ctx.tags_due(target)
            try:
                listing = await list_place(ctx.gateway, target, kinds_present(members), ctx.settings.cluster_id,
                                           tags=tags)
            except AwsFailure as failure:
                DRIFT_SWEEPS.labels("failed").inc()
                fell_back = ctx.falls_back(target)
                ctx.swept(target, ok=False)
                # Named, so that whoever reads the line knows which objects it concerns.
                named = ", ".join(str(o.ref) for o in members[:3])
                more = f" and {len(members) - 3} more" if len(members) > 3 else ""
                logger.warning("drift check by the page in %s%s failed (%s); its resources (%s%s) are described one "
                               "by one until it works again", target.region,
                               f" as {target.role_arn}" if target.role_arn else "", failure, named, more)
                if not fell_back:
                    # Each object sets up its own check on its next pass.
                    for obj in members:
                        self.enqueue(obj.ref)
                continue
            DRIFT_SWEEPS.labels("ok").inc()
            ctx.swept(target, ok=True)
            # An object written while the pages were read may be newer than what they show, or older: it is left to
            # its own pass and to the next sweep.
            unchanged = [obj for obj in members if (now := ctx.store.get(obj.ref)) is not None
                         and now.resource_version == obj.resource_version]
            wanted = ((obj, ctx.tags(obj) if obj.kind in TAGGED_TYPES else {}) for obj in unchanged)
            for suspect in plan_sweep(wanted, listing):
                found += 1
                DRIFT_FOUND.labels(suspect.ref.kind, suspect.why).inc()
                logger.info("drift check: %s differs from its status (%s): looking at it", suspect.ref, suspect.why)
                ctx.suspect(suspect.ref, compare_tags=suspect.compare_tags)
                self.enqueue(suspect.ref)
        return found

    def requeue_collectable(self) -> int:
        """Queue every model and config that keeps more old AWS revisions than its ``revisionHistoryLimit``; how
        many. Uses wake a provider along the references in their specs; a config that moved to another model can
        still let go of an old revision of the first one later (when it collects its own old revision that used
        it), and nothing would wake that model. Once per resync, a pass for each of the few that keep extra
        revisions (those still in use included) bounds how long such a revision outlives its last use."""
        due = [obj.ref for kind in (MODEL, ENDPOINT_CONFIG) if kind in self.reconcilers
               for obj in self.ctx.store.of_kind(kind) if self._may_collect(obj)]
        for ref in due:
            self.enqueue(ref)
        return len(due)

    async def _worker(self) -> None:
        while True:
            priority, _, ref = await self._queue.get()
            if self._queued.get(ref) != priority:
                continue  # the other entry of an object queued twice (see __init__), taken already
            del self._queued[ref]
            QUEUE_DEPTH.set(len(self._queued))
            self._running.add(ref)
            try:
                await self._process(ref)
            finally:
                self._running.discard(ref)
                self.last_progress = time.monotonic()
                again = self._dirty.pop(ref, None)
                if again is not None:
                    self.enqueue(ref, urgent=again == URGENT)

    async def _process(self, ref: ObjectRef) -> None:
        obj = self.ctx.store.get(ref)
        reconciler = self.reconcilers.get(ref.kind)
        if obj is None or reconciler is None:
            return
        started = time.monotonic()
        result = "error"
        try:
            outcome = await self._run_step(reconciler, obj)
            if outcome is not None:
                await self._report(obj, outcome)
                result = outcome.state.value
            self._failures.pop(ref, None)
        except Conflict as conflict:
            # The watch delivers the newer version, which enqueues the object again.
            logger.debug("conflict on %s: %s", ref, conflict)
            result = "conflict"
            self.enqueue(ref, 1.0)
        except KubeUnavailable as unavailable:
            result = "kube-unavailable"
            delay = self._backoff(ref)
            logger.warning("%s: the Kubernetes API did not take a write (%s); retrying in %.0f s", ref, unavailable,
                           delay)
            self.enqueue(ref, delay)
        except RetryLater as retry:
            result = "retry"
            delay = self._backoff(ref)
            logger.warning("%s: AWS answered %s; retrying in %.0f s", ref, retry.failure, delay)
            self.enqueue(ref, delay)
        except NotLeading:
            # The lease ran out under this reconcile: the workers are being stopped, and start() queues every
            # object again when this process leads again.
            result = "not-leading"
            logger.info("%s: not reconciled further: this process no longer leads", ref)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = self._backoff(ref)
            logger.exception("%s: reconcile failed unexpectedly; retrying in %.0f s", ref, delay)
            self.enqueue(ref, delay)
        finally:
            RECONCILES.labels(ref.kind, result).inc()
            RECONCILE_SECONDS.labels(ref.kind).observe(time.monotonic() - started)

    async def _run_step(self, reconciler: KindReconciler, obj: KubeObject) -> Outcome | None:
        if obj.deleting:
            if FINALIZER not in obj.finalizers:
                return None
            return await reconciler.finalize(self.ctx, obj)
        if FINALIZER not in obj.finalizers:
            # Before anything exists in AWS, so that nothing can be leaked by a deletion.
            self._absorb(await self.writer.add_finalizer(obj))
            obj = self.ctx.store.get(obj.ref) or obj
        return await reconciler.reconcile(self.ctx, obj)

    async def _report(self, obj: KubeObject, outcome: Outcome) -> None:
        """Write status (only what changed), post events, release the finalizer, schedule the next look."""
        if not outcome.report:
            if outcome.requeue_after is not None:
                self.enqueue(obj.ref, outcome.requeue_after)
            return
        self.ctx.reported(obj.ref)
        new_status = build_status(obj.status, outcome, obj.generation)
        # Which operator owns the object, for tools that see only the object (`kubectl sagemaker plan` derives the
        # same AWS names with it).
        new_status["clusterId"] = self.ctx.settings.cluster_id
        # Every field written is declared in the kind's status model (and so in its CRD): an undeclared or
        # mistyped field is a bug, refused here rather than pruned silently by the API server.
        patch = status_patch(obj.status, new_status)
        if patch is not None and not outcome.finalized:
            kind_named(obj.kind).status_model.model_validate(new_status)
            # The answer goes into the store at once: the next reconcile must not act on the status before it.
            self._absorb(await self.writer.patch_status(obj.ref, patch))
        elif outcome.created:
            # Created again under the name status already had (deleted outside): no new status wakes the configs or
            # endpoints whose own creation AWS refused while it was missing.
            self._wake(self._dependents_of(obj, claims=False), after=obj)
        for record in outcome.events:
            self.writer.post_event_soon(obj, record)
        if outcome.finalized:
            # Not absorbed: the object is going away, and its DELETED event may already have been handled.
            await self.writer.remove_finalizer(obj)
            return
        if outcome.requeue_after is not None:
            self.enqueue(obj.ref, outcome.requeue_after)

    def _backoff(self, ref: ObjectRef) -> float:
        failures = self._failures.get(ref, 0) + 1
        self._failures[ref] = failures
        return min(self.max_backoff, float(2 ** min(failures, 10)) * self._rng.uniform(0.8, 1.2))

    @staticmethod
    def _count_endpoint(before: KubeObject | None, after: KubeObject | None) -> None:
        """Keep the endpoints-by-status gauge current from watch events (no scan of all endpoints)."""
        def state(obj: KubeObject | None) -> str | None:
            if obj is None or obj.kind != ENDPOINT:
                return None
            return str(obj.status.get("endpointStatus") or "Unknown")

        old, new = state(before), state(after)
        if old == new:
            return
        if old is not None:
            ENDPOINTS_BY_STATUS.labels(old).dec()
        if new is not None:
            ENDPOINTS_BY_STATUS.labels(new).inc()

    @staticmethod
    def _count_degraded(before: KubeObject | None, after: KubeObject | None) -> None:
        """Keep the degraded-by-reason gauge current from watch events: the objects waiting for a person."""
        def reason(obj: KubeObject | None) -> tuple[str, str] | None:
            if obj is None:
                return None
            for condition in obj.status.get("conditions") or []:
                if condition.get("type") == "Degraded" and condition.get("status") == "True":
                    return obj.kind, str(condition.get("reason") or "Unknown")
            return None

        old, new = reason(before), reason(after)
        if old == new:
            return
        if old is not None:
            DEGRADED.labels(*old).dec()
        if new is not None:
            DEGRADED.labels(*new).inc()
