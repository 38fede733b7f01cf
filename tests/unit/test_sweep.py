"""The controller's drift check by the page (Controller.sweep), with an AWS layer that answers canned pages: what it
queues, what it records, and how a failing place falls back to one Describe per resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import Controller, KindReconciler
from sagemaker_operator.kube import KubeWriter
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext
from sagemaker_operator.reconcile.objects import ENDPOINT, MODEL, KubeObject, ObjectRef, ObjectStore
from sagemaker_operator.status import Outcome
from tests.unit.test_controller_queue import body

PLACE = AwsTarget("us-east-1")
MODIFIED = "2026-12-01T10:00:00+00:00"
READY = [{"type": "Ready", "status": "True"}]


class PagingGateway:
    """Answers List* and GetResources from fixed items, 100 per page; counts the calls; can refuse one operation."""

    def __init__(self, items: Mapping[str, list[dict[str, Any]]], refuse: str | None = None) -> None:
        self.items = items
        self.refuse = refuse
        self.calls: list[str] = []

    async def pages(self, target: AwsTarget, operation: str, result_key: str, **params: Any) -> list[dict[str, Any]]:
        self.calls.append(operation)
        if operation == self.refuse:
            raise AwsFailure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "not allowed", operation)
        return list(self.items.get(operation, []))


async def _never(ctx: ReconcileContext, obj: Any) -> Outcome:
    raise AssertionError("the sweep only queues; no worker runs here")


def endpoint(name: str, modified: str = MODIFIED) -> KubeObject:
    return KubeObject.from_body(body(ENDPOINT, name, {"endpointConfigName": "c", "region": "us-east-1"},
                                     status={"observedGeneration": 1, "conditions": READY, "endpointName": name,
                                             "endpointArn": f"arn:aws:sagemaker:us-east-1:1:endpoint/{name}",
                                             "endpointStatus": "InService", "lastModifiedTime": modified}))


def model(name: str) -> KubeObject:
    return KubeObject.from_body(body(MODEL, name, {"region": "us-east-1"}, status={
        "observedGeneration": 1, "conditions": READY, "modelName": f"{name}-1", "modelArn": f"arn:{name}-1"}))


def controller(gateway: PagingGateway, *objects: KubeObject) -> Controller:
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, gateway), store=ObjectStore(),
                           settings=OperatorSettings(cluster_id="c"))
    for obj in objects:
        ctx.store.put(obj)
    kind = KindReconciler(reconcile=_never, finalize=_never)
    return Controller(ctx, cast(KubeWriter, object()), {MODEL: kind, ENDPOINT: kind})


def listing(*names: str, modified: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    return [{"EndpointName": n, "EndpointStatus": "InService", "LastModifiedTime": (modified or {}).get(n, MODIFIED)}
            for n in names]


def tagged(ctx: ReconcileContext, *objects: KubeObject) -> list[dict[str, Any]]:
    return [{"ResourceARN": o.status["endpointArn"], "Tags": [{"Key": k, "Value": v} for k, v in ctx.tags(o).items()]}
            for o in objects]


async def test_a_sweep_queues_only_what_its_pages_show_different() -> None:
    same, moved, gone = endpoint("same"), endpoint("moved"), endpoint("gone")
    gateway = PagingGateway({})
    ctl = controller(gateway, same, moved, gone, model("m"), model("deleted"))
    gateway.items = {"list_endpoints": listing("same", "moved", modified={"moved": "2026-12-01T11:00:00+00:00"}),
                     "get_resources": tagged(ctl.ctx, same, moved, gone),
                     "list_models": [{"ModelName": "m-1"}], "list_endpoint_configs": []}
    assert await ctl.sweep() == 3
    assert sorted(gateway.calls) == ["get_resources", "list_endpoints", "list_models"]  # no config to list
    assert ctl.healthy()["queued"] == 3
    assert ctl.ctx.drift_check_due(ObjectRef(ENDPOINT, "ml", "moved"), PLACE)
    assert ctl.ctx.drift_check_due(ObjectRef(ENDPOINT, "ml", "gone"), PLACE)
    assert not ctl.ctx.drift_check_due(ObjectRef(ENDPOINT, "ml", "same"), PLACE)
    assert ctl.ctx.suspected(ObjectRef(MODEL, "ml", "deleted"))
    assert not ctl.ctx.suspected(ObjectRef(MODEL, "ml", "m"))


async def test_an_object_written_while_the_pages_were_read_is_left_to_the_next_sweep() -> None:
    stale = endpoint("racing")
    gateway = PagingGateway({"list_endpoints": listing("racing", modified={"racing": "2026-12-01T11:00:00+00:00"})})
    ctl = controller(gateway, stale)
    original = gateway.pages

    async def pages_while_written(target: AwsTarget, operation: str, result_key: str, **params: Any
                                  ) -> list[dict[str, Any]]:
        ctl.ctx.store.put(endpoint("racing", "2026-12-01T11:00:00+00:00"))  # its own pass recorded the change
        return await original(target, operation, result_key, **params)

    gateway.pages = pages_while_written  # type: ignore[method-assign]
    assert await ctl.sweep() == 0


async def test_a_failing_place_falls_back_once_and_a_working_sweep_ends_it(caplog: pytest.LogCaptureFixture) -> None:
    first, second = endpoint("a"), endpoint("b")
    gateway = PagingGateway({"list_endpoints": listing("a", "b")}, refuse="list_endpoints")
    ctl = controller(gateway, first, second)
    assert await ctl.sweep() == 0
    assert ctl.ctx.falls_back(PLACE)
    # The warning names the objects it concerns.
    assert "SageMakerEndpoint ml/a, SageMakerEndpoint ml/b" in caplog.text
    assert ctl.healthy()["queued"] == 2  # each sets up its own check
    await ctl.sweep()
    assert ctl.healthy()["queued"] == 2  # not queued again while it keeps failing
    gateway.refuse = None
    gateway.items = {**gateway.items, "get_resources": tagged(ctl.ctx, first, second)}
    assert await ctl.sweep() == 0
    assert not ctl.ctx.falls_back(PLACE)
