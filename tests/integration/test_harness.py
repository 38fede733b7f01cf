"""The foundation works end to end: a CRD, a custom resource with status and finalizer, a kopf handler under
RBAC as a ServiceAccount, and nothing left running afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.helpers import client_from_kubeconfig, operator_process, service_account_kubeconfig, wait_for

GROUP = "testing.sagemaker.operator.dev"
OPERATOR_MODULE = str(Path(__file__).parent / "operators" / "widget_operator.py")

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "required": ["size"],
                             "properties": {"size": {"type": "integer", "minimum": 1}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}


def _ensure_crd(admin: ApiClient) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(admin)
    try:
        extensions.create_custom_resource_definition(WIDGET_CRD)
    except ApiException as error:
        if error.status != 409:
            raise

    def established() -> bool:
        crd = extensions.read_custom_resource_definition(f"widgets.{GROUP}")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    wait_for(established, timeout=30, what="the Widget CRD to be established")


def _grant_operator_role(admin: ApiClient, namespace: str) -> None:
    """Exactly what kopf needs for one namespaced kind: its objects, their status, and events."""
    core = kubernetes.client.CoreV1Api(admin)
    rbac = kubernetes.client.RbacAuthorizationV1Api(admin)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "widget-operator"}})
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "widget-operator"},
        "rules": [
            {"apiGroups": [GROUP], "resources": ["widgets"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [GROUP], "resources": ["widgets/status"], "verbs": ["get", "patch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "widget-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "widget-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "widget-operator", "namespace": namespace}],
    })


@pytest.mark.cluster
def test_kopf_handler_reconciles_a_custom_resource_under_rbac(
        admin_client: ApiClient, namespace: str, tmp_path: Path) -> None:
    _ensure_crd(admin_client)
    _grant_operator_role(admin_client, namespace)
    operator_kubeconfig = service_account_kubeconfig(admin_client, namespace, "widget-operator",
                                                     tmp_path / "operator.kubeconfig")
    operator_client = client_from_kubeconfig(operator_kubeconfig)
    admin_objects = kubernetes.client.CustomObjectsApi(admin_client)

    # The identity is really restricted: it may not read Secrets.
    with pytest.raises(ApiException) as denied:
        kubernetes.client.CoreV1Api(operator_client).list_namespaced_secret(namespace)
    assert denied.value.status == 403

    # The CRD's schema is enforced by the API server.
    with pytest.raises(ApiException) as invalid:
        admin_objects.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": 0}})
    assert invalid.value.status == 422
    assert "spec.size" in invalid.value.body

    args = ["kopf", "run", "--standalone", "--namespace", namespace, "--verbose", OPERATOR_MODULE]
    with operator_process(args, kubeconfig=operator_kubeconfig, log_path=tmp_path / "operator.log") as process:
        admin_objects.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})

        def reconciled() -> dict[str, Any] | None:
            widget: dict[str, Any] = admin_objects.get_namespaced_custom_object(
                GROUP, "v1", namespace, "widgets", "w1")
            return widget if widget.get("status", {}).get("phase") == "Reconciled" else None

        widget = wait_for(reconciled, timeout=60, what="the widget to be reconciled by the kopf handler")
        assert widget["status"]["observedSize"] == 3
        assert f"{GROUP}/finalizer" in widget["metadata"]["finalizers"]

        def handler_event() -> list[Any]:
            events = kubernetes.client.CoreV1Api(admin_client).list_namespaced_event(
                namespace, field_selector="involvedObject.name=w1").items
            return [e for e in events if e.reason == "Reconciled" and e.message == "widget of size 3 reconciled"]

        wait_for(handler_event, timeout=30, what="the handler's event")

        admin_objects.delete_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")

        def gone() -> bool:
            try:
                admin_objects.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")
            except ApiException as error:
                return error.status == 404
            return False

        wait_for(gone, timeout=60, what="the finalizer to be removed and the widget deleted")
        assert process.poll() is None, "the operator exited while it should be running"
    assert process.returncode is not None
    operator_client.close()
