"""The generated CRDs against a real API server: accepted, valid manifests pass, bad ones are refused.

What the schema design relies on, on the API servers tested (1.20, the oldest supported, and the current one):

* Unknown fields under ``spec`` are pruned silently (stored without them), not refused.
* Error messages name the field path, without list indexes on 1.20 (``spec.productionVariants.instanceType``).
* Patterns are compiled by Go's regexp; the RE2-incompatible AWS patterns are left out by the generator.
* CEL rules (``x-kubernetes-validations``, api/rules.py) are enforced from 1.25 on, with their own message after
  the path (and ``fieldPath`` pointing at a member); 1.20 drops them silently, and the operator's own copy of the
  rules answers instead (tests/reliability/test_bad_input.py).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.api.kinds import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    INFERENCE_COMPONENT,
    KINDS,
    MODEL,
    VERSION,
    Kind,
)
from tests.crd_cases import BAD, RULE_BREAKS, VALID, unindexed
from tests.crd_helpers import apply_crds, enforces_cel

pytestmark = pytest.mark.cluster

@pytest.fixture(scope="module")
def crds(admin_client: ApiClient) -> list[str]:
    """The generated CRDs, installed (left installed: CRDs are cluster-wide and the session's cluster is disposable)."""
    return apply_crds(admin_client)


def _manifest(kind: Kind, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind.kind, "metadata": {"name": name}, "spec": spec}


def _create(admin: ApiClient, namespace: str, kind: Kind, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    objects = kubernetes.client.CustomObjectsApi(admin)
    created: dict[str, Any] = objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, kind.plural, _manifest(kind, name, spec))
    return created


def test_every_kind_is_installed(crds: list[str]) -> None:
    assert sorted(crds) == sorted(kind.crd_name for kind in KINDS)


def test_applying_twice_replaces(admin_client: ApiClient, crds: list[str]) -> None:
    assert apply_crds(admin_client) == crds


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_valid_manifest_is_accepted_with_defaults(admin_client: ApiClient, namespace: str, crds: list[str],
                                                  kind: Kind) -> None:
    created = _create(admin_client, namespace, kind, "valid", copy.deepcopy(VALID[kind.kind]))
    spec = created["spec"]
    for key, value in VALID[kind.kind].items():
        assert spec[key] == value
    assert spec["deletionPolicy"] == VALID[kind.kind].get("deletionPolicy", "Delete")
    if kind in (MODEL, ENDPOINT_CONFIG):
        assert spec["revisionHistoryLimit"] == 2


def test_endpoint_with_a_literal_config_name_is_accepted(admin_client: ApiClient, namespace: str,
                                                         crds: list[str]) -> None:
    spec = {"endpointConfigName": "made-elsewhere", "endpointName": "x" * 63}
    assert _create(admin_client, namespace, ENDPOINT, "literal", spec)["spec"]["endpointConfigName"] == "made-elsewhere"


def test_bad_manifests_are_refused_naming_the_field(admin_client: ApiClient, namespace: str, crds: list[str]) -> None:
    assert len(BAD) >= 12
    accepted, wrong = [], []
    for index, (case, kind, mutate, path) in enumerate(BAD):
        spec = copy.deepcopy(VALID[kind.kind])
        mutate(spec)
        try:
            _create(admin_client, namespace, kind, f"bad-{index}", spec)
        except ApiException as error:
            message = json.loads(error.body).get("message", "")
            # Kubernetes 1.20 names list items without their index (spec.productionVariants.instanceType); newer
            # servers add it. Compare without indexes so the test holds for both.
            if error.status != 422 or unindexed(path) not in unindexed(message):
                wrong.append(f"{case}: HTTP {error.status}, expected {path!r} in: {message}")
        else:
            accepted.append(case)
    assert not accepted, f"accepted although invalid: {accepted}"
    assert not wrong, "\n".join(wrong)


def test_rule_breaks_are_refused_with_the_rule_message(admin_client: ApiClient, namespace: str,
                                                       crds: list[str]) -> None:
    if not enforces_cel(admin_client):
        pytest.skip("this API server drops CEL rules (Kubernetes < 1.25): the operator refuses these instead, "
                    "see tests/reliability/test_bad_input.py")
    accepted, wrong = [], []
    for index, bad in enumerate(RULE_BREAKS):
        spec = copy.deepcopy(VALID[bad.kind.kind])
        bad.mutate(spec)
        try:
            _create(admin_client, namespace, bad.kind, f"rule-{index}", spec)
        except ApiException as error:
            message = json.loads(error.body).get("message", "")
            if error.status != 422 or f"{bad.where}: Invalid value" not in message or bad.message not in message:
                wrong.append(f"{bad.case}: HTTP {error.status}, expected {bad.where!r} and {bad.message!r} in: "
                             f"{message}")
        else:
            accepted.append(bad.case)
    assert not accepted, f"accepted although invalid: {accepted}"
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("kind", "member"), [(ENDPOINT, "endpointName"),
                                              (INFERENCE_COMPONENT, "inferenceComponentName")])
def test_aws_names_are_immutable(admin_client: ApiClient, namespace: str, crds: list[str], kind: Kind,
                                 member: str) -> None:
    if not enforces_cel(admin_client):
        pytest.skip("this API server drops CEL rules (Kubernetes < 1.25): the operator refuses a changed name "
                    "instead, see tests/reliability/test_bad_input.py")
    objects = kubernetes.client.CustomObjectsApi(admin_client)
    _create(admin_client, namespace, kind, "named", copy.deepcopy(VALID[kind.kind]))
    # Spelling out the default (metadata.name) changes nothing, so it is allowed.
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural, "named", {"spec": {member: "named"}})
    with pytest.raises(ApiException) as refused:
        objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural, "named",
                                               {"spec": {member: "renamed"}})
    message = json.loads(refused.value.body)["message"]
    assert refused.value.status == 422
    assert f"spec.{member}: Invalid value" in message
    assert kind.immutable_name is not None and kind.immutable_name.message in message
    # Other fields still change.
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural, "named",
                                           {"spec": {"tags": {"a": "b"}}})


def test_unknown_spec_fields_are_pruned_not_refused(admin_client: ApiClient, namespace: str, crds: list[str]) -> None:
    spec = copy.deepcopy(VALID[MODEL.kind])
    spec["noSuchField"] = 1
    spec["primaryContainer"]["imageTypo"] = "x"
    created = _create(admin_client, namespace, MODEL, "pruned", spec)
    assert "noSuchField" not in created["spec"]
    assert "imageTypo" not in created["spec"]["primaryContainer"]
    assert created["spec"]["primaryContainer"]["image"] == spec["primaryContainer"]["image"]


def test_status_is_typed_prunes_unknown_fields_and_feeds_the_columns(kube: Any, admin_client: ApiClient,
                                                                     namespace: str, crds: list[str]) -> None:
    """The status schema is generated from the operator's typed status: every field it writes is declared, so the
    API server keeps those and prunes anything else."""
    _create(admin_client, namespace, ENDPOINT, "columns", {"endpointConfigName": "cfg"})
    status = {"endpointStatus": "InService", "endpointName": "columns", "futureField": {"x": 1},
              "conditions": [{"type": "Ready", "status": "True", "reason": "InService",
                              "lastTransitionTime": "2026-11-21T10:00:00Z"}]}
    objects = kubernetes.client.CustomObjectsApi(admin_client)
    patched = objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, ENDPOINT.plural, "columns", {"status": status})
    assert "futureField" not in patched["status"]
    assert patched["status"]["endpointName"] == "columns"
    header, row = _kubectl(kube, "get", "smendpoint", "-n", namespace).splitlines()
    assert header.split() == ["NAME", "STATUS", "READY", "AWS", "NAME", "AGE"]
    assert row.split()[:4] == ["columns", "InService", "True", "columns"]


def test_refused_status_condition(admin_client: ApiClient, namespace: str, crds: list[str]) -> None:
    _create(admin_client, namespace, MODEL, "status", copy.deepcopy(VALID[MODEL.kind]))
    objects = kubernetes.client.CustomObjectsApi(admin_client)
    with pytest.raises(ApiException) as refused:
        objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, MODEL.plural, "status",
            {"status": {"conditions": [{"type": "Ready", "status": "Maybe"}]}})
    assert refused.value.status == 422
    assert "status.conditions.status" in unindexed(json.loads(refused.value.body)["message"])
    # Deeper fields are typed too (the schema is generated from the typed status).
    _create(admin_client, namespace, ENDPOINT, "typed", {"endpointConfigName": "cfg"})
    with pytest.raises(ApiException) as refused:
        objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, ENDPOINT.plural, "typed",
            {"status": {"lastDeployment": {"endpointConfigName": "c", "startedAt": "2026-11-21T10:00:00Z",
                                           "outcome": "Maybe"}}})
    assert refused.value.status == 422
    assert "status.lastDeployment.outcome" in unindexed(json.loads(refused.value.body)["message"])


def _kubectl(kube: Any, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig)}
    result = subprocess.run([kube.kubectl, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_explain_shows_descriptions(kube: Any, crds: list[str]) -> None:
    explained = _kubectl(kube, "explain", "sagemakerendpointconfig.spec.productionVariants.modelRef")
    assert "SageMakerModel in the same namespace" in explained


def test_short_names_and_category(kube: Any, admin_client: ApiClient, namespace: str, crds: list[str]) -> None:
    _create(admin_client, namespace, MODEL, "named", copy.deepcopy(VALID[MODEL.kind]))
    _create(admin_client, namespace, ENDPOINT, "named", {"endpointConfigName": "cfg"})
    assert _kubectl(kube, "get", "smmodel", "-n", namespace, "-o", "name").split() == [
        f"sagemakermodel.{GROUP}/named"]
    assert sorted(_kubectl(kube, "get", "sagemaker", "-n", namespace, "-o", "name").split()) == [
        f"sagemakerendpoint.{GROUP}/named", f"sagemakermodel.{GROUP}/named"]


def test_server_compiles_patterns_so_accepted_crds_have_re2_patterns(admin_client: ApiClient) -> None:
    """Why the generator drops lookaround patterns: the API server refuses a CRD whose pattern RE2 cannot compile."""
    extensions = kubernetes.client.ApiextensionsV1Api(admin_client)
    group = f"patterns.{GROUP}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"lookaheads.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "lookaheads", "singular": "lookahead", "kind": "Lookahead"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "name": {"type": "string", "pattern": r"^(?!\s*$).+$"}}}}}}}]},
    }
    with pytest.raises(ApiException) as refused:
        extensions.create_custom_resource_definition(crd, dry_run="All")
    assert refused.value.status == 422
    assert "pattern" in json.loads(refused.value.body)["message"]
