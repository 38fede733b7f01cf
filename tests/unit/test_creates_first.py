"""When a live resource is created without a Describe first (reconcile/live.py, creates_first): only for an object
the operator never reported on, and that this process saw appear."""

from __future__ import annotations

from typing import Any

from sagemaker_operator.reconcile.live import COMPONENT_RESOURCE, ENDPOINT_RESOURCE, creates_first
from sagemaker_operator.reconcile.objects import ENDPOINT, KubeObject


def endpoint(**status: Any) -> KubeObject:
    return KubeObject(kind=ENDPOINT, namespace="ml", name="e", uid="u", generation=1, resource_version="1", spec={},
                      status=status, annotations={}, finalizers=(), deleting=False)


def test_only_a_new_object_seen_appearing_is_created_without_a_look() -> None:
    assert creates_first(ENDPOINT_RESOURCE, endpoint(), inherited=False)
    # Inherited by a new leader: its predecessor may have created it without recording it.
    assert not creates_first(ENDPOINT_RESOURCE, endpoint(), inherited=True)
    # Reported on before (e.g. NotOwned: a foreign endpoint has the name), or with a resource recorded.
    assert not creates_first(ENDPOINT_RESOURCE, endpoint(conditions=[{"type": "Degraded", "status": "True"}]),
                             inherited=False)
    assert not creates_first(ENDPOINT_RESOURCE, endpoint(endpointArn="arn:e"), inherited=False)
    assert not creates_first(ENDPOINT_RESOURCE, endpoint(endpointStatus="Creating"), inherited=False)
    assert not creates_first(COMPONENT_RESOURCE, endpoint(inferenceComponentStatus="Creating"), inherited=False)
    assert creates_first(COMPONENT_RESOURCE, endpoint(endpointStatus="irrelevant to a component"), inherited=False)
