"""`kubectl sagemaker status` for an endpoint that hosts inference components, and the scalable targets the operator
registered for endpoints and components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.integration.test_plugin import kubectl_sagemaker
from tests.operator_harness import Objects, autoscaling, config_spec, model_spec, running_operator

pytestmark = pytest.mark.cluster
MODEL, CONFIG, ENDPOINT, IC = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint", \
    "SageMakerInferenceComponent"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


def _policy(name: str, metric: str) -> dict[str, Any]:
    return {"policyName": name, "targetTracking": {"targetValue": 5.0, "predefinedMetricSpecification": {
        "predefinedMetricType": metric}}}


def _component(copies: int, **where: Any) -> dict[str, Any]:
    return {"variantName": "main", "runtimeConfig": {"copyCount": copies}, **where,
            "specification": {"modelRef": {"name": "m"}, "computeResourceRequirements": {
                "numberOfCpuCoresRequired": 1, "minMemoryRequiredInMb": 1024}}}


def _json(kube: KubeTarget, emulator: EmulatorThread, namespace: str, *args: str) -> Any:
    result = kubectl_sagemaker(kube, emulator, namespace, "status", *args, "-o", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_shows_components_copies_and_autoscaling_targets(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "m", model_spec())
        # An endpoint for components, and a plain one whose variant scales.
        objects.create(CONFIG, "shared", {"executionRoleArn": ROLE, "productionVariants": [
            {"variantName": "main", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 1}]})
        objects.create(ENDPOINT, "shared", {"endpointConfigRef": {"name": "shared"}})
        objects.create(CONFIG, "plain", config_spec(("primary", "m", 1.0, 1)))
        objects.create(ENDPOINT, "plain", {"endpointConfigRef": {"name": "plain"}, "autoscaling": [
            {"variantName": "primary", "minCapacity": 1, "maxCapacity": 4,
             "policies": [_policy("per-instance", "SageMakerVariantInvocationsPerInstance")]}]})
        objects.create(IC, "a", {**_component(1, endpointRef={"name": "shared"}), "autoscaling": {
            "minCopies": 1, "maxCopies": 3,
            "policies": [_policy("per-copy", "SageMakerInferenceComponentInvocationsPerCopy")]}})
        objects.wait_condition(ENDPOINT, "shared", "Ready")
        # On the same endpoint by its AWS name, not by reference (created once that endpoint is InService).
        objects.create(IC, "b", {**_component(2, endpointName="shared"), "inferenceComponentName": "shared-b"})

        def settled() -> bool:
            components = [(objects.get(IC, name) or {}).get("status", {}) for name in ("a", "b")]
            return (all((objects.condition(kind, name, "Ready") or {}).get("status") == "True"
                        for kind, name in ((IC, "a"), (IC, "b"), (ENDPOINT, "plain")))
                    and [(s.get("runtimeConfig") or {}).get("currentCopyCount") for s in components] == [1, 2]
                    and bool((components[0].get("autoscaling") or {}).get("targets"))
                    and bool(((objects.get(ENDPOINT, "plain") or {}).get("status", {}).get("autoscaling") or {})
                             .get("targets")))

        wait_for(settled, timeout=60, what="both components InService and every target registered")
        registered = {t["ResourceId"]: t for t in autoscaling(emulator.url).describe_scalable_targets(
            ServiceNamespace="sagemaker")["ScalableTargets"]}
        assert set(registered) == {"inference-component/a", "endpoint/plain/variant/primary"}
        model_name = (objects.get(MODEL, "m") or {})["status"]["modelName"]

        shared = _json(kube, emulator, namespace, "shared")
        assert shared["autoscaling"] == []
        assert [(c["name"], c["awsName"], c["status"], c["ready"], c["variantName"], c["copies"], c["models"])
                for c in shared["components"]] == [
            ("a", "a", "InService", "True", "main", {"current": 1, "desired": 1}, [model_name]),
            ("b", "shared-b", "InService", "True", "main", {"current": 2, "desired": 2}, [model_name])]
        (target,) = shared["components"][0]["autoscaling"]
        assert target == {"name": "a", "resourceId": "inference-component/a", "scalableDimension": COPY_DIMENSION,
                          "minCapacity": 1, "maxCapacity": 3, "policies": ["per-copy"]}
        assert (registered[target["resourceId"]]["MinCapacity"],
                registered[target["resourceId"]]["MaxCapacity"]) == (1, 3)
        assert shared["components"][1]["autoscaling"] == []

        plain = _json(kube, emulator, namespace, "plain")
        assert plain["components"] == []
        assert [(t["resourceId"], t["minCapacity"], t["maxCapacity"], t["policies"]) for t in plain["autoscaling"]] \
            == [("endpoint/plain/variant/primary", 1, 4, ["per-instance"])]

        every = {v["name"]: v for v in _json(kube, emulator, namespace)}
        assert every["shared"]["components"] == shared["components"]
        as_yaml = kubectl_sagemaker(kube, emulator, namespace, "status", "shared", "-o", "yaml")
        assert yaml.safe_load(as_yaml.stdout)["components"] == shared["components"]

        wide = kubectl_sagemaker(kube, emulator, namespace, "status", "-o", "wide")
        assert wide.exit_code == 0, wide.output
        rows = {line.split()[0]: line for line in wide.stdout.splitlines()[1:]}
        assert "COMPONENTS" in wide.stdout.splitlines()[0] and "AUTOSCALING" in wide.stdout.splitlines()[0]
        assert "a=a(InService,1/1),b=shared-b(InService,2/2)" in rows["shared"]
        assert "a=1-3" in rows["shared"]
        assert "primary=1-4" in rows["plain"] and "InService," not in rows["plain"]

        table = kubectl_sagemaker(kube, emulator, namespace, "status", "shared")
        assert table.exit_code == 0, table.output
        sections = table.stdout.split("\n\n")
        components = next(s for s in sections if s.startswith("Inference components")).splitlines()
        assert components[1].split() == ["COMPONENT", "AWS", "NAME", "STATUS", "READY", "VARIANT", "COPIES", "MODELS"]
        assert [line.split()[:6] for line in components[2:]] == [
            ["a", "a", "InService", "True", "main", "1/1"], ["b", "shared-b", "InService", "True", "main", "2/2"]]
        targets = next(s for s in sections if s.startswith("Autoscaling")).splitlines()
        assert [line.split() for line in targets[2:]] == [["inference-component/a", COPY_DIMENSION, "1", "3",
                                                           "per-copy"]]
