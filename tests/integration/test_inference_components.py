"""Several models on one endpoint (inference components) and Application Auto Scaling, through the operator."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.operator_harness import (
    Objects,
    autoscaling,
    config_spec,
    counters,
    model_spec,
    running_operator,
    runtime,
    sagemaker,
)

pytestmark = pytest.mark.cluster
MODEL, CONFIG, ENDPOINT, IC = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint", \
    "SageMakerInferenceComponent"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
INVOCATIONS_PER_INSTANCE = {"policyName": "invocations", "targetTracking": {
    "targetValue": 100.0, "scaleInCooldown": 300, "scaleOutCooldown": 60,
    "predefinedMetricSpecification": {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}


def _component(model: str, cpus: float, memory: int, copies: int, **extra: Any) -> dict[str, Any]:
    return {"endpointRef": {"name": "shared"}, "variantName": "main",
            "specification": {"modelRef": {"name": model}, "computeResourceRequirements": {
                "numberOfCpuCoresRequired": cpus, "minMemoryRequiredInMb": memory}},
            "runtimeConfig": {"copyCount": copies}, **extra}


def _shared_endpoint(objects: Objects) -> None:
    objects.create(CONFIG, "shared", {"executionRoleArn": ROLE, "productionVariants": [
        {"variantName": "main", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 2}]})
    objects.create(ENDPOINT, "shared", {"endpointConfigRef": {"name": "shared"}})


def _targets(emulator: EmulatorThread) -> dict[str, Any]:
    found = autoscaling(emulator.url).describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    return {t["ResourceId"]: t for t in found}


def _policies(emulator: EmulatorThread, resource_id: str) -> list[str]:
    found = autoscaling(emulator.url).describe_scaling_policies(ServiceNamespace="sagemaker",
                                                                ResourceId=resource_id)["ScalingPolicies"]
    return sorted(p["PolicyName"] for p in found)


def test_components_share_an_endpoint_scale_update_and_go_away_in_order(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    client = runtime(emulator.url)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "llm", model_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:1"))
        objects.create(MODEL, "ranker", model_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/ranker:1"))
        _shared_endpoint(objects)
        objects.create(IC, "llm", _component("llm", 4, 16384, 1, autoscaling={
            "minCopies": 1, "maxCopies": 4, "policies": [{"policyName": "per-copy", "targetTracking": {
                "targetValue": 5.0, "predefinedMetricSpecification": {
                    "predefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}}}]}))
        objects.create(IC, "ranker", _component("ranker", 1, 1024, 2))
        for name in ("llm", "ranker"):
            objects.wait_condition(IC, name, "Ready", timeout=60)

        for name, image in (("llm", "llm:1"), ("ranker", "ranker:1")):
            answer = client.invoke_endpoint(EndpointName="shared", InferenceComponentName=name, Body=b"{}",
                                            ContentType="application/json")
            served = json.loads(answer["Body"].read())
            assert served["inference_component"] == name
            assert served["image"].endswith(image)
        described = sagemaker(emulator.url).describe_inference_component(InferenceComponentName="ranker")
        assert described["RuntimeConfig"]["DesiredCopyCount"] == 2
        assert described["Specification"]["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] == 1024

        target = _targets(emulator)["inference-component/llm"]
        assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
        assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
        assert _policies(emulator, "inference-component/llm") == ["per-copy"]

        # Copy count only: the runtime-config path, not a specification update.
        objects.patch(IC, "ranker", {"spec": {"runtimeConfig": {"copyCount": 3}}})
        wait_for(lambda: sagemaker(emulator.url).describe_inference_component(InferenceComponentName="ranker")
                 ["RuntimeConfig"]["DesiredCopyCount"] == 3, timeout=30, what="three copies of ranker")
        objects.wait_condition(IC, "ranker", "Ready")
        calls = counters(emulator)
        assert calls.get("UpdateInferenceComponentRuntimeConfig") == 1
        assert calls.get("UpdateInferenceComponent", 0) == 0

        # A new model image: a specification update, with invocations answered all along.
        failures: list[str] = []
        stop = threading.Event()

        def invoke_forever() -> None:
            while not stop.is_set():
                try:
                    client.invoke_endpoint(EndpointName="shared", InferenceComponentName="ranker", Body=b"{}",
                                           ContentType="application/json")
                except Exception as error:  # any failure counts
                    failures.append(repr(error))

        prober = threading.Thread(target=invoke_forever)
        prober.start()
        try:
            objects.patch(MODEL, "ranker", {"spec": {"primaryContainer": {
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ranker:2"}}})

            def updated() -> bool:
                described = sagemaker(emulator.url).describe_inference_component(InferenceComponentName="ranker")
                ready = objects.condition(IC, "ranker", "Ready") or {}
                model = (objects.get(MODEL, "ranker") or {}).get("status", {}).get("modelName")
                return bool(described["InferenceComponentStatus"] == "InService" and ready.get("status") == "True"
                            and described["Specification"].get("ModelName") == model)

            wait_for(updated, timeout=60, what="the component to run the new model")
        finally:
            stop.set()
            prober.join()
        assert failures == []
        assert counters(emulator).get("UpdateInferenceComponent") == 1

        # Autoscaling removed from the spec: target and policies go.
        objects.patch(IC, "llm", {"spec": {"autoscaling": None}})
        wait_for(lambda: "inference-component/llm" not in _targets(emulator), timeout=30,
                 what="the llm scalable target to be deregistered")
        assert _policies(emulator, "inference-component/llm") == []

        # The endpoint waits for its components, and says so.
        objects.delete(ENDPOINT, "shared")
        wait_for(lambda: (objects.condition(ENDPOINT, "shared", "Progressing") or {}).get("reason")
                 == "WaitingForDependents", timeout=30, what="the endpoint to wait for its components")
        assert "InService" in [e["EndpointStatus"] for e in sagemaker(emulator.url).list_endpoints()["Endpoints"]]
        for name in ("llm", "ranker"):
            objects.delete(IC, name)
        for kind, name in ((IC, "llm"), (IC, "ranker"), (ENDPOINT, "shared")):
            objects.wait_gone(kind, name, timeout=60)
        objects.delete(CONFIG, "shared")
        for name in ("llm", "ranker"):
            objects.delete(MODEL, name)
        for kind, name in ((CONFIG, "shared"), (MODEL, "llm"), (MODEL, "ranker")):
            objects.wait_gone(kind, name, timeout=60)
    assert emulator.admin.resources() == []
    assert _targets(emulator) == {}


def test_variant_autoscaling_survives_a_model_update_and_is_removed_cleanly(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    resource_id = "endpoint/scaled/variant/primary"
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "scaled", model_spec())
        objects.create(CONFIG, "scaled", config_spec(("primary", "scaled", 1.0, 1)))
        objects.create(ENDPOINT, "scaled", {"endpointConfigRef": {"name": "scaled"}, "autoscaling": [
            {"variantName": "primary", "minCapacity": 1, "maxCapacity": 5, "policies": [INVOCATIONS_PER_INSTANCE]}]})
        objects.wait_condition(ENDPOINT, "scaled", "Ready")
        wait_for(lambda: resource_id in _targets(emulator), timeout=30, what="the variant to be registered")
        target = _targets(emulator)[resource_id]
        assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
        assert _policies(emulator, resource_id) == ["invocations"]
        status = (objects.get(ENDPOINT, "scaled") or {})["status"]["autoscaling"]["targets"]
        assert status == [{"name": "primary", "resourceId": resource_id,
                           "scalableDimension": "sagemaker:variant:DesiredInstanceCount", "minCapacity": 1,
                           "maxCapacity": 5, "policies": ["invocations"]}]

        # The autoscaler scales out (as Application Auto Scaling would, through the same API).
        client = sagemaker(emulator.url)
        client.update_endpoint_weights_and_capacities(EndpointName="scaled", DesiredWeightsAndCapacities=[
            {"VariantName": "primary", "DesiredInstanceCount": 3}])
        wait_for(lambda: client.describe_endpoint(EndpointName="scaled")["EndpointStatus"] == "InService",
                 timeout=30, what="the scale-out to finish")

        old_config = (objects.get(ENDPOINT, "scaled") or {})["status"]["currentEndpointConfigName"]
        objects.patch(MODEL, "scaled", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"}}})

        def updated_and_rescaled() -> bool:
            endpoint = objects.get(ENDPOINT, "scaled") or {}
            status = endpoint.get("status", {})
            return bool(status.get("currentEndpointConfigName") not in (None, old_config)
                        and (objects.condition(ENDPOINT, "scaled", "Ready") or {}).get("status") == "True"
                        and resource_id in _targets(emulator))

        wait_for(updated_and_rescaled, timeout=60, what="the update to finish with scaling re-applied")
        variant = client.describe_endpoint(EndpointName="scaled")["ProductionVariants"][0]
        assert variant["CurrentInstanceCount"] == 3, "the update must keep the scaled-out instance count"
        # Only the scale-out above changed capacities; the operator never did.
        assert counters(emulator).get("UpdateEndpointWeightsAndCapacities") == 1

        objects.patch(ENDPOINT, "scaled", {"spec": {"autoscaling": None}})
        wait_for(lambda: resource_id not in _targets(emulator), timeout=30, what="the target to be deregistered")
        assert _policies(emulator, resource_id) == []
        objects.wait_condition(ENDPOINT, "scaled", "Ready")
