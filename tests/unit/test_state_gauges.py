"""The gauges the controller keeps from watch events, which the chart's alerts read: endpoints by SageMaker status
and objects Degraded by reason. Counted from the objects listed at start-up too, so that a restarted operator
reports what was already Failed or Degraded (the watch then delivers the same objects, unchanged)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import Controller, KindReconciler
from sagemaker_operator.kube import KubeWriter
from sagemaker_operator.metrics import REGISTRY
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext
from sagemaker_operator.reconcile.objects import ENDPOINT, MODEL, ObjectStore
from sagemaker_operator.status import Outcome
from tests.unit.test_controller_queue import body


class ListingWriter:
    """Answers the start-up listing with fixed objects; the tests never start workers, so nothing else is called."""

    def __init__(self, objects: Mapping[str, list[dict[str, Any]]]) -> None:
        self.objects = objects

    async def list_pages(self, plural: str, namespace: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        items = [dict(item) for item in self.objects.get(plural, [])]
        # Two pages, as the API server answers a LIST with a limit: the fill reads on to the end.
        yield items[:1]
        yield items[1:]


async def _never(ctx: ReconcileContext, obj: Any) -> Outcome:
    raise AssertionError("no reconcile expected: the workers are not started")


def controller(objects: Mapping[str, list[dict[str, Any]]] | None = None) -> Controller:
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, object()), store=ObjectStore(), settings=OperatorSettings())
    step = KindReconciler(reconcile=_never, finalize=_never)
    return Controller(ctx, cast(KubeWriter, ListingWriter(objects or {})), {MODEL: step, ENDPOINT: step})


def degraded(kind: str, reason: str) -> float:
    return REGISTRY.get_sample_value("sagemaker_operator_degraded", {"kind": kind, "reason": reason}) or 0.0


def endpoints(status: str) -> float:
    return REGISTRY.get_sample_value("sagemaker_operator_endpoints", {"status": status}) or 0.0


def conditions(state: str, reason: str) -> dict[str, Any]:
    return {"conditions": [{"type": kind, "status": "True" if kind == state else "False", "reason": reason}
                           for kind in ("Ready", "Progressing", "Degraded")]}


async def test_degraded_objects_are_counted_by_kind_and_reason_until_they_recover_or_go() -> None:
    ctl = controller()
    before = degraded(ENDPOINT, "UpdateFailed"), degraded(MODEL, "AccessDenied")
    failed = {**conditions("Degraded", "UpdateFailed"), "endpointStatus": "InService"}
    ctl.observe(body(ENDPOINT, "e", status=failed), "ADDED")
    ctl.observe(body(MODEL, "m", status=conditions("Degraded", "AccessDenied")), "ADDED")
    assert degraded(ENDPOINT, "UpdateFailed") == before[0] + 1
    assert degraded(MODEL, "AccessDenied") == before[1] + 1

    # A rewrite with the same reason counts nothing twice; recovery and deletion take the object out.
    again = body(ENDPOINT, "e", status=failed, generation=2)
    ctl.observe(again, "MODIFIED")
    assert degraded(ENDPOINT, "UpdateFailed") == before[0] + 1
    ctl.observe(body(ENDPOINT, "e", status=conditions("Ready", "Available"), generation=3), "MODIFIED")
    assert degraded(ENDPOINT, "UpdateFailed") == before[0]
    ctl.observe(body(MODEL, "m", status=conditions("Degraded", "AccessDenied")), "DELETED")
    assert degraded(MODEL, "AccessDenied") == before[1]


async def test_objects_listed_at_start_up_are_counted_once() -> None:
    failed = {**conditions("Degraded", "CreateFailed"), "endpointStatus": "Failed"}
    listed = body(ENDPOINT, "old-failure", status=failed, namespace="restart")
    ctl = controller({"sagemakerendpoints": [listed]})
    before = degraded(ENDPOINT, "CreateFailed"), endpoints("Failed"), endpoints("Creating")
    assert await ctl.prime(["restart"]) == 1
    assert degraded(ENDPOINT, "CreateFailed") == before[0] + 1
    assert endpoints("Failed") == before[1] + 1

    # The watch's first event for the same object changes nothing; a later change moves it, never below zero.
    ctl.observe(listed, "ADDED")
    assert (degraded(ENDPOINT, "CreateFailed"), endpoints("Failed")) == (before[0] + 1, before[1] + 1)
    recreating = body(ENDPOINT, "old-failure", status={**conditions("Progressing", "Creating"),
                                                       "endpointStatus": "Creating"}, generation=2,
                      namespace="restart")
    ctl.observe(recreating, "MODIFIED")
    assert (degraded(ENDPOINT, "CreateFailed"), endpoints("Failed")) == before[:2]
    assert endpoints("Creating") == before[2] + 1
    ctl.observe(recreating, "DELETED")
    assert endpoints("Creating") == before[2]
