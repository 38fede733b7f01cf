"""The finalizer policy against the real API server: where it serves the MutatingAdmissionPolicy API (Kubernetes
>= 1.36), new objects carry the operator's finalizer from their creation, the operator writes no finalizer of its
own, and every object is still deleted, also those it never acted on. Older servers: the operator adds the
finalizer itself (the endpoint tests run there with it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.api.admission import install_finalizer_policy
from sagemaker_operator.reconcile.objects import FINALIZER
from tests.conftest import KubeTarget
from tests.crd_helpers import server_minor
from tests.helpers import wait_for
from tests.operator_harness import Objects, config_spec, model_spec, running_operator

pytestmark = pytest.mark.cluster

MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"


@pytest.fixture
def policy(admin_client: ApiClient, crds: list[str]) -> None:
    if server_minor(admin_client) < 36:
        assert not install_finalizer_policy(admin_client), "no MutatingAdmissionPolicy API before 1.36"
        pytest.skip("the finalizer policy needs Kubernetes >= 1.36")


def _finalizer_writers(obj: dict[str, Any]) -> list[str]:
    """The field managers that wrote metadata.finalizers (the policy's addition belongs to none)."""
    return [entry["manager"] for entry in obj["metadata"].get("managedFields") or ()
            if "f:finalizers" in (entry.get("fieldsV1") or {}).get("f:metadata", {})]


def test_objects_carry_the_finalizer_from_their_creation_and_the_operator_writes_none(
        kube: KubeTarget, admin_client: ApiClient, policy: None, namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    objects.create(MODEL, "born", model_spec())
    # Before any operator runs: the API server put it there.
    assert (objects.get(MODEL, "born") or {})["metadata"]["finalizers"] == [FINALIZER]
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(CONFIG, "born", config_spec(("primary", "born", 1.0, 1)))
        objects.create(ENDPOINT, "born", {"endpointConfigRef": {"name": "born"}})
        objects.wait_condition(ENDPOINT, "born", "Ready")
        for kind in (MODEL, CONFIG, ENDPOINT):
            obj = objects.get(kind, "born") or {}
            assert obj["metadata"]["finalizers"] == [FINALIZER], kind
            assert _finalizer_writers(obj) == [], (kind, obj["metadata"]["managedFields"])
        for kind in (ENDPOINT, CONFIG, MODEL):
            objects.delete(kind, "born")
        for kind in (ENDPOINT, CONFIG, MODEL):
            objects.wait_gone(kind, "born", timeout=60)
    assert emulator.admin.resources() == []


def test_objects_the_operator_never_acted_on_are_still_deleted(
        kube: KubeTarget, admin_client: ApiClient, policy: None, namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    # Created and deleted while no operator runs: held by the finalizer until one does.
    objects.create(MODEL, "fleeting", model_spec())
    objects.delete(MODEL, "fleeting")
    assert (objects.get(MODEL, "fleeting") or {})["metadata"].get("deletionTimestamp")
    # Another's finalizer is kept beside the operator's.
    objects.create(MODEL, "shared", model_spec())
    objects.patch(MODEL, "shared", {"metadata": {"finalizers": [FINALIZER, "example.com/keep"]}})
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.wait_gone(MODEL, "fleeting", timeout=60)
        # An endpoint whose config never comes: it waits, and goes when deleted, though nothing was created for it.
        objects.create(ENDPOINT, "waiting", {"endpointConfigRef": {"name": "absent"}})
        objects.wait_condition(MODEL, "shared", "Ready")
        objects.delete(ENDPOINT, "waiting")
        objects.wait_gone(ENDPOINT, "waiting", timeout=60)
        objects.delete(MODEL, "shared")

        def only_the_other_left() -> bool:
            return (objects.get(MODEL, "shared") or {})["metadata"].get("finalizers") == ["example.com/keep"]

        wait_for(only_the_other_left, timeout=60, what="the operator to release its finalizer only")
        objects.patch(MODEL, "shared", {"metadata": {"finalizers": None}})
        objects.wait_gone(MODEL, "shared")
    assert emulator.admin.resources() == []
