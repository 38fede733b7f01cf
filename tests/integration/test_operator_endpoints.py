"""The operator against the real API server and the emulator: create, update (fast path and new fleet), failure,
drift, ownership and deletion of SageMaker endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.operator_harness import Objects, config_spec, counters, model_spec, running_operator, sagemaker

pytestmark = pytest.mark.cluster

MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"


def _endpoint_snapshot(emulator: EmulatorThread) -> dict[str, Any]:
    return {e["EndpointName"]: e for e in sagemaker(emulator.url).list_endpoints()["Endpoints"]}


def test_endpoint_is_created_and_ready_only_when_in_service(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "churn", model_spec())
        objects.create(CONFIG, "churn", config_spec(("primary", "churn", 1.0, 1)))
        objects.create(ENDPOINT, "churn", {"endpointConfigRef": {"name": "churn"}, "tags": {"team": "ml"}})

        endpoint = objects.wait_condition(ENDPOINT, "churn", "Ready", timeout=60)
        status = endpoint["status"]
        assert status["endpointStatus"] == "InService"
        assert status["endpointName"] == "churn"
        assert status["endpointUrl"].endswith("/endpoints/churn/invocations")
        config = objects.get(CONFIG, "churn")
        model = objects.get(MODEL, "churn")
        assert config is not None and model is not None
        assert status["currentEndpointConfigName"] == config["status"]["endpointConfigName"]
        assert config["status"]["modelNames"] == [model["status"]["modelName"]]
        assert model["status"]["modelName"].startswith("churn-")

        client = sagemaker(emulator.url)
        described = client.describe_endpoint(EndpointName="churn")
        assert described["EndpointStatus"] == "InService"
        tags = {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=described["EndpointArn"])["Tags"]}
        assert tags["team"] == "ml"
        assert tags["sagemaker.operator.dev/namespace"] == namespace
        assert tags["sagemaker.operator.dev/name"] == "churn"
        # Ready flipped once, when the endpoint became InService: Progressing came first.
        reasons = [e.reason for e in objects.events("churn")]
        assert "Created" in reasons

        calls = counters(emulator)
        assert calls.get("CreateModel") == 1
        assert calls.get("CreateEndpointConfig") == 1
        assert calls.get("CreateEndpoint") == 1
