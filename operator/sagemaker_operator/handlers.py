"""kopf registrations: only wiring. Watch events go to the controller; decisions live in ``reconcile/``.

Loaded by ``sagemaker-operator run`` (which passes the operator's settings in kopf's ``memo``).
"""

from __future__ import annotations

from typing import Any

import kopf

from sagemaker_operator.aws.clients import ClientFactory
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import Controller, KindReconciler
from sagemaker_operator.kube import KubeWriter, load_client_configuration
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
    VERSION,
    ObjectStore,
)

RECONCILERS = {
    MODEL: KindReconciler(reconcile_model, finalize_model),
    ENDPOINT_CONFIG: KindReconciler(reconcile_endpoint_config, finalize_endpoint_config),
    ENDPOINT: KindReconciler(reconcile_endpoint, finalize_endpoint),
    INFERENCE_COMPONENT: KindReconciler(reconcile_inference_component, finalize_inference_component),
}


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Configure kopf and start the reconcile workers."""
    # Resources are resolved by discovery; the operator need not list CRDs or namespaces cluster-wide.
    settings.scanning.disabled = True
    # A watch that stops delivering without closing is restarted (stalled-watch protection).
    timeout = int(memo.get("watch_server_timeout", 300))
    settings.watching.server_timeout = timeout
    settings.watching.client_timeout = timeout + max(5, timeout // 10)
    settings.watching.connect_timeout = 30
    settings.posting.enabled = False  # the operator posts its own, deliberate events
    operator_settings: OperatorSettings = memo["settings"]
    clients = ClientFactory(retry_mode=memo.get("aws_retry_mode", "standard"),
                            max_attempts=int(memo.get("aws_max_attempts", 5)))
    gateway = SageMakerGateway(clients, max_concurrency=int(memo.get("aws_concurrency", 32)))
    ctx = ReconcileContext(gateway=gateway, store=ObjectStore(), settings=operator_settings)
    controller = Controller(ctx, KubeWriter(load_client_configuration()), RECONCILERS,
                            workers=int(memo.get("workers", 8)))
    namespaces: list[str | None] = list(memo.get("namespaces") or []) or [None]
    primed = await controller.prime(namespaces)
    controller.start()
    memo["controller"] = controller
    memo["gateway"] = gateway
    logger.info("sagemaker-operator started: cluster id %r, default region %r, resync every %.0f s, %d objects",
                operator_settings.cluster_id, operator_settings.default_region, operator_settings.resync_seconds,
                primed)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers and the AWS thread pool."""
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        await controller.stop()
    gateway: SageMakerGateway | None = memo.get("gateway")
    if gateway is not None:
        gateway.close()


async def _observe(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        controller.observe(body, type)


for _kind in RECONCILERS:
    kopf.on.event(GROUP, VERSION, PLURALS[_kind], id=f"observe-{PLURALS[_kind]}")(_observe)


@kopf.on.probe(id="reconcile-workers")
def workers_alive(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness: fails when a reconcile worker died, so Kubernetes restarts the operator."""
    controller: Controller | None = memo.get("controller")
    if controller is None:
        raise RuntimeError("the controller has not started")
    return controller.healthy()
