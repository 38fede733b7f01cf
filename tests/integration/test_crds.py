"""The generated CRDs against a real API server: accepted, valid manifests pass, bad ones are refused by the schema.

Findings on Kubernetes 1.20 (the local API server) that the schema design relies on:

* ``oneOf`` and ``not`` made only of ``required`` are legal in structural schemas and enforced: an endpoint needs
  exactly one of endpointConfigRef/endpointConfigName, a variant cannot have both modelName and modelRef.
* Unknown fields under ``spec`` are pruned silently (stored without them), not refused.
* Error messages name the field path, without list indexes on 1.20 (``spec.productionVariants.instanceType``); a
  ``not`` failure names the list (``"spec.productionVariants" must not validate the schema (not)``), a ``oneOf``
  failure names ``spec``.
* Patterns are compiled by Go's regexp; the RE2-incompatible AWS patterns are left out by the generator.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable
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
from tests.crd_helpers import apply_crds

pytestmark = pytest.mark.cluster

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"

VALID: dict[str, dict[str, Any]] = {
    MODEL.kind: {
        "region": "eu-west-1",
        "executionRoleArn": ROLE,
        "primaryContainer": {
            "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:1",
            "modelDataUrl": "s3://bucket/model.tar.gz",
            "environment": {"SAGEMAKER_PROGRAM": "inference.py", "lower_case": "x y"},
        },
        "vpcConfig": {"securityGroupIds": ["sg-0123"], "subnets": ["subnet-0a", "subnet-0b"]},
        "tags": {"team": "ml", "cost-center": "42"},
    },
    ENDPOINT_CONFIG.kind: {
        "productionVariants": [
            {"variantName": "blue", "modelRef": {"name": "my-model"}, "instanceType": "ml.m5.large",
             "initialInstanceCount": 2, "initialVariantWeight": 0.5},
            {"variantName": "serverless", "modelName": "existing-model",
             "serverlessConfig": {"memorySizeInMB": 2048, "maxConcurrency": 5}},
            {"variantName": "for-inference-components", "instanceType": "ml.g5.xlarge", "initialInstanceCount": 1},
        ],
        "shadowProductionVariants": [{"variantName": "shadow", "modelRef": {"name": "my-model-v2"},
                                      "instanceType": "ml.m5.large", "initialInstanceCount": 1}],
        "dataCaptureConfig": {"initialSamplingPercentage": 10, "destinationS3Uri": "s3://bucket/capture",
                              "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}]},
        "deletionPolicy": "Retain",
    },
    ENDPOINT.kind: {
        "endpointConfigRef": {"name": "my-config"},
        "deploymentConfig": {"blueGreenUpdatePolicy": {
            "trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 60}}},
        "retainAllVariantProperties": True,
        "excludeRetainedVariantProperties": [{"variantPropertyType": "DesiredInstanceCount"}],
        "assumeRoleArn": ROLE,
    },
    INFERENCE_COMPONENT.kind: {
        "endpointRef": {"name": "my-endpoint"},
        "variantName": "main",
        "specification": {"modelRef": {"name": "llm"}, "computeResourceRequirements": {
            "numberOfCpuCoresRequired": 2, "minMemoryRequiredInMb": 4096, "numberOfAcceleratorDevicesRequired": 1}},
        "runtimeConfig": {"copyCount": 2},
        "autoscaling": {"minCopies": 1, "maxCopies": 4, "policies": [{"policyName": "per-copy", "targetTracking": {
            "targetValue": 5.0, "predefinedMetricSpecification": {
                "predefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}}}]},
    },
}

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b[0].c`` in a spec."""
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    """A mutation removing ``a.b`` from a spec."""
    def mutate(spec: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = spec
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return mutate


def _unindexed(text: str) -> str:
    return re.sub(r"\[\d+\]", "", text)


def _many_variants(spec: dict[str, Any]) -> None:
    variant = spec["productionVariants"][0]
    spec["productionVariants"] = [{**variant, "variantName": f"v{i}"} for i in range(11)]


# (id, kind, mutation, text the refusal must contain: the field path).
BAD: list[tuple[str, Kind, Mutation, str]] = [
    ("endpointName-too-long", ENDPOINT, _set("endpointName", "e" * 64), "spec.endpointName"),
    ("endpointName-underscore", ENDPOINT, _set("endpointName", "my_endpoint"), "spec.endpointName"),
    ("negative-weight", ENDPOINT_CONFIG, _set("productionVariants[0].initialVariantWeight", -1),
     "spec.productionVariants[0].initialVariantWeight"),
    ("zero-instances", ENDPOINT_CONFIG, _set("productionVariants[0].initialInstanceCount", 0),
     "spec.productionVariants[0].initialInstanceCount"),
    ("eleven-variants", ENDPOINT_CONFIG, _many_variants, "spec.productionVariants"),
    ("unknown-instance-type", ENDPOINT_CONFIG, _set("productionVariants[0].instanceType", "ml.huge.9000xl"),
     "spec.productionVariants[0].instanceType"),
    ("wrong-type", ENDPOINT_CONFIG, _set("productionVariants[0].initialInstanceCount", "two"),
     "spec.productionVariants[0].initialInstanceCount"),
    ("deletionPolicy-Keep", MODEL, _set("deletionPolicy", "Keep"), "spec.deletionPolicy"),
    ("region-Mars", MODEL, _set("region", "Mars"), "spec.region"),
    ("no-endpoint-config", ENDPOINT, _delete("endpointConfigRef"), "spec"),
    ("both-endpoint-configs", ENDPOINT, _set("endpointConfigName", "literal"), "spec"),
    ("variant-modelName-and-modelRef", ENDPOINT_CONFIG, _set("productionVariants[0].modelName", "m"),
     "spec.productionVariants[0]"),
    ("shadow-modelName-and-modelRef", ENDPOINT_CONFIG, _set("shadowProductionVariants[0].modelName", "m"),
     "spec.shadowProductionVariants[0]"),
    ("tag-value-too-long", MODEL, _set("tags.team", "x" * 257), "spec.tags.team"),
    ("tag-value-bad-character", MODEL, _set("tags.team", "a#b"), "spec.tags.team"),
    ("too-many-tags", MODEL, _set("tags", {f"k{i}": "v" for i in range(46)}), "spec.tags"),
    ("bad-assumeRoleArn", ENDPOINT, _set("assumeRoleArn", "role/x"), "spec.assumeRoleArn"),
    ("modelRef-not-an-object-name", ENDPOINT_CONFIG, _set("productionVariants[0].modelRef.name", "My_Model"),
     "spec.productionVariants[0].modelRef.name"),
    ("modelRef-without-name", ENDPOINT_CONFIG, _set("productionVariants[0].modelRef", {}),
     "spec.productionVariants[0].modelRef.name"),
    ("negative-revisionHistoryLimit", MODEL, _set("revisionHistoryLimit", -1), "spec.revisionHistoryLimit"),
    ("no-variants", ENDPOINT_CONFIG, _delete("productionVariants"), "spec.productionVariants"),
    ("environment-value-not-a-string", MODEL, _set("primaryContainer.environment.N", 3),
     "spec.primaryContainer.environment.N"),
    ("execution-role-pattern", MODEL, _set("executionRoleArn", "arn:aws:iam::12:role/x"), "spec.executionRoleArn"),
    ("traffic-routing-enum", ENDPOINT, _set("deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type",
                                            "SOMETIMES"),
     "spec.deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type"),
    ("component-both-endpoints", INFERENCE_COMPONENT, _set("endpointName", "literal"), "spec"),
    ("component-modelName-and-modelRef", INFERENCE_COMPONENT, _set("specification.modelName", "m"),
     "spec.specification"),
    ("component-autoscaling-without-max", INFERENCE_COMPONENT, _delete("autoscaling.maxCopies"),
     "spec.autoscaling.maxCopies"),
    ("policy-both-kinds", INFERENCE_COMPONENT, _set("autoscaling.policies[0].stepScaling", {}),
     "spec.autoscaling.policies[0]"),
    ("variant-autoscaling-negative-min", ENDPOINT, _set("autoscaling", [
        {"variantName": "blue", "minCapacity": -1, "maxCapacity": 2}]), "spec.autoscaling[0].minCapacity"),
    ("serverless-missing-required", ENDPOINT_CONFIG, _set("productionVariants[1].serverlessConfig",
                                                          {"memorySizeInMB": 2048}),
     "spec.productionVariants[1].serverlessConfig.maxConcurrency"),
]


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
            if error.status != 422 or _unindexed(path) not in _unindexed(message):
                wrong.append(f"{case}: HTTP {error.status}, expected {path!r} in: {message}")
        else:
            accepted.append(case)
    assert not accepted, f"accepted although invalid: {accepted}"
    assert not wrong, "\n".join(wrong)


def test_unknown_spec_fields_are_pruned_not_refused(admin_client: ApiClient, namespace: str, crds: list[str]) -> None:
    spec = copy.deepcopy(VALID[MODEL.kind])
    spec["noSuchField"] = 1
    spec["primaryContainer"]["imageTypo"] = "x"
    created = _create(admin_client, namespace, MODEL, "pruned", spec)
    assert "noSuchField" not in created["spec"]
    assert "imageTypo" not in created["spec"]["primaryContainer"]
    assert created["spec"]["primaryContainer"]["image"] == spec["primaryContainer"]["image"]


def test_status_keeps_unknown_fields_and_feeds_the_columns(kube: Any, admin_client: ApiClient, namespace: str,
                                                           crds: list[str]) -> None:
    _create(admin_client, namespace, ENDPOINT, "columns", {"endpointConfigName": "cfg"})
    status = {"endpointStatus": "InService", "endpointName": "columns", "futureField": {"x": 1},
              "conditions": [{"type": "Ready", "status": "True", "reason": "InService",
                              "lastTransitionTime": "2026-11-21T10:00:00Z"}]}
    objects = kubernetes.client.CustomObjectsApi(admin_client)
    patched = objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, ENDPOINT.plural, "columns", {"status": status})
    assert patched["status"]["futureField"] == {"x": 1}
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
    assert "status.conditions.status" in _unindexed(json.loads(refused.value.body)["message"])


def _kubectl(kube: Any, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig)}
    result = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
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
