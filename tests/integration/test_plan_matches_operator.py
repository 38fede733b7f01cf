"""`kubectl sagemaker plan` and the operator decide with the same planners: for each scenario, the AWS writes the
plan lists are exactly the writes the operator then makes, counted at the emulator.

One operator and one namespace go through a life of every kind: models, configs, endpoints and an inference
component are created, an image changes (new model and config revisions, UpdateEndpoint, UpdateInferenceComponent),
weights and copies change in place, tags and autoscaling are added, and an endpoint deleted outside the operator
is recreated.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.integration.test_plugin import kubectl_sagemaker
from tests.operator_harness import Objects, config_spec, counters, model_spec, running_operator, sagemaker

pytestmark = pytest.mark.cluster
API = "sagemaker.operator.dev/v1alpha1"
MODEL, CONFIG, ENDPOINT, IC = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint", \
    "SageMakerInferenceComponent"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE_2 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"
READS = ("Describe", "List", "Get")


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _component(copies: int) -> dict[str, Any]:
    return {"endpointRef": {"name": "host"}, "variantName": "main", "runtimeConfig": {"copyCount": copies},
            "specification": {"modelRef": {"name": "m"}, "computeResourceRequirements": {
                "numberOfCpuCoresRequired": 1, "minMemoryRequiredInMb": 1024}}}


class Scenario:
    """Plans a manifest with the plugin, applies it, waits until the operator is done, and compares."""

    def __init__(self, kube: KubeTarget, emulator: EmulatorThread, objects: Objects, folder: Path) -> None:
        self.kube, self.emulator, self.objects, self.folder = kube, emulator, objects, folder
        self.steps = 0

    def plan(self, documents: list[dict[str, Any]]) -> tuple[Path, dict[tuple[str, str], list[str]]]:
        self.steps += 1
        path = self.folder / f"step-{self.steps}.yaml"
        path.write_text(yaml.safe_dump_all(documents))
        result = kubectl_sagemaker(self.kube, self.emulator, self.objects.namespace, "plan", "-f", str(path),
                                   "-o", "json")
        assert result.exit_code in (0, 2), result.output
        return path, {(c["kind"], c["name"]): c["calls"] for c in json.loads(result.stdout)}

    def writes_since(self, before: dict[str, int]) -> Counter[str]:
        return Counter({op: n - before.get(op, 0) for op, n in counters(self.emulator).items()
                        if not op.startswith(READS) and n != before.get(op, 0)})

    def apply(self, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            kind, name = document["kind"], document["metadata"]["name"]
            if self.objects.get(kind, name):
                self.objects.patch(kind, name, {"spec": document["spec"]})
            else:
                self.objects.create(kind, name, document["spec"])

    def settled(self, *refs: tuple[str, str], extra: Callable[[], bool] = lambda: True) -> None:
        def done() -> bool:
            for kind, name in refs:
                obj = self.objects.get(kind, name) or {}
                ready = self.objects.condition(kind, name, "Ready") or {}
                if ready.get("status") != "True" or ready.get("observedGeneration") != obj["metadata"]["generation"]:
                    return False
            return extra()

        names = ", ".join(name for _, name in refs)
        wait_for(done, timeout=90, what=f"step {self.steps}: {names} Ready on their new spec")

    def run(self, documents: list[dict[str, Any]], *settle: tuple[str, str], expected: dict[tuple[str, str], list[str]],
            extra: Callable[[], bool] = lambda: True) -> None:
        """Plan ``documents`` (checking the plan against ``expected``), apply them, and prove the operator made
        exactly the planned writes."""
        planned = self.expect(documents, expected)
        before = counters(self.emulator)
        self.apply(documents)
        self.made_as_planned(planned, before, *settle, extra=extra)

    def expect(self, documents: list[dict[str, Any]], expected: dict[tuple[str, str], list[str]]
               ) -> dict[tuple[str, str], list[str]]:
        """The plan of ``documents``, which must list the ``expected`` writes per object (none for the others)."""
        _, planned = self.plan(documents)
        assert {ref: calls for ref, calls in planned.items() if calls} == expected, planned
        return planned

    def made_as_planned(self, planned: dict[tuple[str, str], list[str]], before: dict[str, int],
                        *settle: tuple[str, str], extra: Callable[[], bool] = lambda: True) -> None:
        """Once the operator is done, the writes since ``before`` are the planned ones, no more and no fewer."""
        self.settled(*settle, extra=extra)
        made = self.writes_since(before)
        assert made == Counter(call for calls in planned.values() for call in calls), (made, planned)


def test_the_plan_lists_exactly_the_writes_the_operator_then_makes(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    scenario = Scenario(kube, emulator, objects, tmp_path)
    model = _doc(MODEL, "m", model_spec())
    shop = _doc(CONFIG, "shop", config_spec(("a", "m", 0.5, 1), ("b", "m", 0.5, 1)))
    host = _doc(CONFIG, "host", {"executionRoleArn": ROLE, "productionVariants": [
        {"variantName": "main", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 1}]})
    endpoints = [_doc(ENDPOINT, "shop", {"endpointConfigRef": {"name": "shop"}}),
                 _doc(ENDPOINT, "host", {"endpointConfigRef": {"name": "host"}})]
    everything = [(MODEL, "m"), (CONFIG, "shop"), (CONFIG, "host"), (ENDPOINT, "shop"), (ENDPOINT, "host")]
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        # Created from nothing: each object's plan assumes the ones it references will be Ready.
        scenario.run([model, shop, host, *endpoints], *everything, expected={
            (MODEL, "m"): ["CreateModel"], (CONFIG, "shop"): ["CreateEndpointConfig"],
            (CONFIG, "host"): ["CreateEndpointConfig"], (ENDPOINT, "shop"): ["CreateEndpoint"],
            (ENDPOINT, "host"): ["CreateEndpoint"]})

        # A component on the endpoint that is now InService.
        scenario.run([_doc(IC, "ic", _component(1))], (IC, "ic"),
                     expected={(IC, "ic"): ["CreateInferenceComponent"]})

        # Nothing changed: no write planned, none made.
        scenario.run([model, shop, host, *endpoints, _doc(IC, "ic", _component(1))], *everything, (IC, "ic"),
                     expected={})

        # One image changed, the model's file alone: the plan follows the model to its config, that config's
        # endpoint and the component that runs the model.
        new_model = _doc(MODEL, "m", model_spec(IMAGE_2))
        serving = objects.get(ENDPOINT, "shop")["status"]["currentEndpointConfigName"]
        component_digest = objects.get(IC, "ic")["status"]["specificationDigest"]
        scenario.run([new_model], (MODEL, "m"), (CONFIG, "shop"), (ENDPOINT, "shop"), (IC, "ic"), expected={
            (MODEL, "m"): ["CreateModel"], (CONFIG, "shop"): ["CreateEndpointConfig"],
            (ENDPOINT, "shop"): ["UpdateEndpoint"], (IC, "ic"): ["UpdateInferenceComponent"]},
            extra=lambda: (objects.get(ENDPOINT, "shop")["status"].get("currentEndpointConfigName") != serving
                           and objects.get(IC, "ic")["status"].get("specificationDigest") != component_digest))

        # Tags: the AWS resources of the spec's objects get the new tag, nothing else.
        tagged = _doc(ENDPOINT, "shop", {"endpointConfigRef": {"name": "shop"}, "tags": {"team": "search"}})
        scenario.run([tagged], (ENDPOINT, "shop"), expected={(ENDPOINT, "shop"): ["AddTags"]})

    # Deleted outside the operator while it is down: the plan says what its first drift check will do.
    client = sagemaker(emulator.url)
    # The recreated endpoint has the same name and ARN: its new deployment record tells it apart.
    deployed = objects.get(ENDPOINT, "shop")["status"]["lastDeployment"]
    client.delete_endpoint(EndpointName="shop")
    wait_for(lambda: "shop" not in {e["EndpointName"] for e in client.list_endpoints()["Endpoints"]},
             timeout=30, what="the endpoint to be gone")
    planned = scenario.expect([tagged], {(ENDPOINT, "shop"): ["CreateEndpoint"]})
    before = counters(emulator)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator-2.log",
                          ["--resync-seconds", "2"]):
        scenario.made_as_planned(
            planned, before, (ENDPOINT, "shop"),
            extra=lambda: objects.get(ENDPOINT, "shop")["status"].get("lastDeployment") not in (None, deployed))

        # Weights and copies change in place: no new revision, no new fleet.
        scenario.run([_doc(CONFIG, "shop", config_spec(("a", "m", 0.8, 1), ("b", "m", 0.2, 1)))],
                     (CONFIG, "shop"), (ENDPOINT, "shop"),
                     expected={(ENDPOINT, "shop"): ["UpdateEndpointWeightsAndCapacities"]})
        scenario.run([_doc(IC, "ic", _component(2))], (IC, "ic"),
                     expected={(IC, "ic"): ["UpdateInferenceComponentRuntimeConfig"]},
                     extra=lambda: (objects.get(IC, "ic")["status"].get("runtimeConfig") or {})
                     .get("currentCopyCount") == 2)

        # Autoscaling added: the target and its policy, registered on the InService endpoint.
        scaled = _doc(ENDPOINT, "shop", {**tagged["spec"], "autoscaling": [
            {"variantName": "a", "minCapacity": 1, "maxCapacity": 3, "policies": [
                {"policyName": "per-instance", "targetTracking": {"targetValue": 5.0, "predefinedMetricSpecification": {
                    "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}]})
        scenario.run([scaled], (ENDPOINT, "shop"),
                     expected={(ENDPOINT, "shop"): ["RegisterScalableTarget", "PutScalingPolicy"]},
                     extra=lambda: bool((objects.get(ENDPOINT, "shop")["status"].get("autoscaling") or {})
                                        .get("targets")))
