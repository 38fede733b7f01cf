"""kopf registrations: only wiring. Watch events go to the controller; decisions live in ``reconcile/``.

Loaded by ``sagemaker-operator run`` (which passes the operator's settings in kopf's ``memo``).
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

import kopf

from sagemaker_operator import __version__
from sagemaker_operator.aws.clients import ClientFactory
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import Controller, KindReconciler
from sagemaker_operator.kube import LIST_PAGE, KubeWriter, load_client_configuration
from sagemaker_operator.leader import ElectionConfig, LeaderElector
from sagemaker_operator.metrics import LEADER
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext
from sagemaker_operator.reconcile.endpoint import finalize_endpoint, reconcile_endpoint
from sagemaker_operator.reconcile.endpoint_config import finalize_endpoint_config, reconcile_endpoint_config
from sagemaker_operator.reconcile.inference_component import (
    finalize_inference_component,
    reconcile_inference_component,
)
from sagemaker_operator.reconcile.model import finalize_model, reconcile_model
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    INFERENCE_COMPONENT,
    MODEL,
    PLURALS,
    TRANSFORM_JOB,
    VERSION,
    ObjectStore,
)
from sagemaker_operator.reconcile.transform_job import finalize_transform_job, reconcile_transform_job

KOPF_WORKERS = 256
KOPF_IDLE_SECONDS = 0.5
# Python's cycle collector runs its youngest generation every 700 net allocations by default. Decoding watch events
# and API answers allocates by the hundred thousand, and each run looks at every young container still alive: with
# the default, collections took a twelfth of the operator's CPU while it created 1,000 endpoints. Cycles are rare here
# (refcounting frees nearly everything), so collecting every 10,000 costs little memory.
GC_THRESHOLDS = (10_000, 10, 10)

RECONCILERS = {
    MODEL: KindReconciler(reconcile_model, finalize_model),
    ENDPOINT_CONFIG: KindReconciler(reconcile_endpoint_config, finalize_endpoint_config),
    ENDPOINT: KindReconciler(reconcile_endpoint, finalize_endpoint),
    INFERENCE_COMPONENT: KindReconciler(reconcile_inference_component, finalize_inference_component),
    TRANSFORM_JOB: KindReconciler(reconcile_transform_job, finalize_transform_job),
}


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base, for an operator with no change handlers: nothing to build, keep or compare.

    kopf builds each object's "essence" (a deep copy of the body) on every watch event and compares it with the last
    one, for its on.create/on.update handlers. This operator has only on.event handlers and compares for itself
    (level-triggered, against AWS): without this storage, that copy and comparison were a tenth of its CPU when many
    objects changed at once.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return cast(kopf.BodyEssence, {})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return cast(kopf.BodyEssence, {})

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Configure kopf, fill the store, and start the reconcile workers: at once, or when this process leads."""
    # Resources are resolved by discovery; the operator need not list CRDs or namespaces cluster-wide.
    settings.scanning.disabled = True
    # A watch that stops delivering without closing is restarted (stalled-watch protection).
    timeout = int(memo.get("watch_server_timeout", 300))
    settings.watching.server_timeout = timeout
    settings.watching.client_timeout = timeout + max(5, timeout // 10)
    settings.watching.connect_timeout = 30
    settings.posting.enabled = False  # the operator posts its own, deliberate events
    settings.persistence.diffbase_storage = NoDiffBase()
    # kopf's initial listing by the page too (see KubeWriter.list_pages).
    settings.watching.chunk_size = LIST_PAGE
    # kopf keeps a task per object that had an event in the last idle_timeout seconds (5 by default): after a
    # restart, one per object at once. The handler only records the event, so a few hundred suffice, each let go
    # soon after its last event.
    settings.queueing.worker_limit = KOPF_WORKERS
    settings.queueing.idle_timeout = KOPF_IDLE_SECONDS
    operator_settings: OperatorSettings = memo["settings"]
    election: ElectionConfig | None = memo.get("leader_election")
    workers = int(memo.get("workers", 8))
    # A connection per writer thread (one per reconcile worker, a few for events) and for the lease; the watches
    # have their own.
    api_client = load_client_configuration(connections=workers + 8)
    # The identity in the User-Agent: the API server's audit log then tells which replica made each request.
    identity = election.identity if election else "no-leader-election"
    api_client.user_agent = f"sagemaker-operator/{__version__} ({identity})"
    elector: LeaderElector | None = None
    fence = None
    if election is not None:
        elector = LeaderElector(api_client, election)
        fence = elector.fence
    clients = ClientFactory(retry_mode=memo.get("aws_retry_mode", "standard"),
                            max_attempts=int(memo.get("aws_max_attempts", 5)))
    gateway = SageMakerGateway(clients, max_concurrency=int(memo.get("aws_concurrency", 32)), fence=fence)
    ctx = ReconcileContext(gateway=gateway, store=ObjectStore(), settings=operator_settings)
    writer = KubeWriter(api_client, fence=fence, concurrency=workers + 4)
    controller = Controller(ctx, writer, RECONCILERS, workers=workers)
    namespaces: list[str | None] = list(memo.get("namespaces") or []) or [None]
    # Leader or not, the store is filled and kept current by the watches: a standby takes over without a relist.
    primed = await controller.prime(namespaces)
    _settle_collector()
    memo["controller"] = controller
    memo["gateway"] = gateway
    if elector is None:
        LEADER.set(1)
        controller.start()
    else:
        async def started() -> None:
            controller.start()

        memo["elector"] = elector
        memo["election_task"] = asyncio.create_task(elector.run(started, controller.pause), name="leader-election")
    logger.info("sagemaker-operator started: cluster id %r, default region %r, resync every %.0f s, %d objects, %s",
                operator_settings.cluster_id, operator_settings.default_region, operator_settings.resync_seconds,
                primed, f"leader election on lease {election.namespace}/{election.name} as {election.identity}"
                if election else "without leader election")


def _settle_collector() -> None:
    """After start-up: what is alive now (modules, botocore's service models, the store just filled) lives as long as
    the process, so the cycle collector stops looking at it (``gc.freeze``: a full collection had to walk it all,
    about a tenth of a second each time); and it runs less often (``GC_THRESHOLDS``)."""
    gc.collect()  # garbage left by start-up is not frozen with the rest
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers, release the lease (a standby takes over at once), stop the AWS thread pool."""
    controller: Controller | None = memo.get("controller")
    elector: LeaderElector | None = memo.get("elector")
    task: asyncio.Task[None] | None = memo.get("election_task")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if controller is not None:
        await controller.stop()
    if elector is not None:
        # After the workers stopped: the lease must not be free while this process could still act.
        await elector.release()
    gateway: SageMakerGateway | None = memo.get("gateway")
    if gateway is not None:
        gateway.close()
    if controller is not None:
        controller.writer.close()


async def _observe(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        controller.observe(body, type)


for _kind in RECONCILERS:
    kopf.on.event(GROUP, VERSION, PLURALS[_kind], id=f"observe-{PLURALS[_kind]}")(_observe)


@kopf.on.probe(id="reconcile-workers")
def workers_alive(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness: fails when a reconcile worker of the leader died, so Kubernetes restarts the operator. A standby
    has no workers and is healthy."""
    controller: Controller | None = memo.get("controller")
    if controller is None:
        raise RuntimeError("the controller has not started")
    return controller.healthy()


@kopf.on.probe(id="leader-election")
def leadership(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Who leads, in the probe payload (never a failure: a healthy standby is live)."""
    elector: LeaderElector | None = memo.get("elector")
    if elector is None:
        return {"enabled": False, "leading": True}
    return {"enabled": True, **elector.status()}
