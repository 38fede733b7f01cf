"""Every folder of ``examples/`` against the real API server (schema validation included) and the operator on the
emulator: applied as it is, every object Ready, and the SageMaker side what the example says it is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.dev.examples import EXAMPLES_DIR, load_manifests
from tests.conftest import KubeTarget
from tests.operator_harness import (
    GROUP,
    PLURALS,
    REGION,
    VERSION,
    Objects,
    autoscaling,
    counters,
    running_operator,
    runtime,
    s3,
    sagemaker,
    seed_example_data,
)

pytestmark = pytest.mark.cluster

FOLDERS = sorted(path for path in EXAMPLES_DIR.iterdir() if path.is_dir())
ENDPOINT, MODEL, IC = "SageMakerEndpoint", "SageMakerModel", "SageMakerInferenceComponent"
CROSS_ACCOUNT_ROLE = "arn:aws:iam::444455556666:role/sagemaker-operator-deployer"


def _apply(objects: Objects, documents: list[dict[str, Any]]) -> None:
    """Create each document as it is written (the API server validates it against the CRD schema)."""
    for document in documents:
        objects.api.create_namespaced_custom_object(GROUP, VERSION, objects.namespace, PLURALS[document["kind"]],
                                                    document)


def _invoke(emulator: EmulatorThread, endpoint: str, **extra: Any) -> dict[str, Any]:
    answer = runtime(emulator.url).invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json",
                                                   **extra)
    return {"variant": answer["InvokedProductionVariant"], **json.loads(answer["Body"].read())}


def _config(emulator: EmulatorThread, objects: Objects, endpoint: str) -> dict[str, Any]:
    """The AWS endpoint config the endpoint ``endpoint`` (an object name) runs on."""
    current = (objects.get(ENDPOINT, endpoint) or {})["status"]["currentEndpointConfigName"]
    described: dict[str, Any] = sagemaker(emulator.url).describe_endpoint_config(EndpointConfigName=current)
    return described


# What each example must look like in SageMaker once Ready, beyond the Ready conditions.


def _single_model(emulator: EmulatorThread, objects: Objects) -> None:
    assert _invoke(emulator, "sentiment")["variant"] == "AllTraffic"


def _ab_test(emulator: EmulatorThread, objects: Objects) -> None:
    variants = _config(emulator, objects, "recommender")["ProductionVariants"]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in variants] == [("current", 0.95),
                                                                                ("candidate", 0.05)]


def _canary_rollback(emulator: EmulatorThread, objects: Objects) -> None:
    status = (objects.get(ENDPOINT, "fraud-detector") or {})["status"]
    assert status["endpointStatus"] == "InService"


def _serverless(emulator: EmulatorThread, objects: Objects) -> None:
    variant = _config(emulator, objects, "summarizer")["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}


def _async_inference(emulator: EmulatorThread, objects: Objects) -> None:
    output = _config(emulator, objects, "transcriber")["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"] == "s3://my-bucket/async/transcriber/output/"
    accepted = runtime(emulator.url).invoke_endpoint_async(
        EndpointName="transcriber", InputLocation="s3://my-bucket/async/transcriber/input/a.json")
    assert accepted["OutputLocation"] == f"s3://my-bucket/async/transcriber/output/{accepted['InferenceId']}.out"


def _data_capture(emulator: EmulatorThread, objects: Objects) -> None:
    capture = _config(emulator, objects, "churn-predictor")["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == "s3://my-bucket/capture/churn-predictor"
    assert sorted(o["CaptureMode"] for o in capture["CaptureOptions"]) == ["Input", "Output"]


def _inference_components(emulator: EmulatorThread, objects: Objects) -> None:
    for component in ("chat", "embeddings"):
        assert _invoke(emulator, "assistants", InferenceComponentName=component)["inference_component"] == component
    described = sagemaker(emulator.url).describe_inference_component(InferenceComponentName="embeddings")
    assert described["RuntimeConfig"]["DesiredCopyCount"] == 2
    targets = autoscaling(emulator.url).describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("inference-component/chat", 1, 4)]


def _autoscaled_variant(emulator: EmulatorThread, objects: Objects) -> None:
    resource_id = "endpoint/search-ranker/variant/AllTraffic"
    client = autoscaling(emulator.url)
    # The targets are registered once the endpoint is InService, right after Ready: allow a moment.
    deadline = time.monotonic() + 20
    while not client.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])[
            "ScalableTargets"]:
        assert time.monotonic() < deadline, "the variant was not registered as a scalable target"
        time.sleep(0.2)
    policies = client.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource_id)
    [policy] = policies["ScalingPolicies"]
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def _cross_account(emulator: EmulatorThread, objects: Objects) -> None:
    status = (objects.get(ENDPOINT, "forecaster") or {})["status"]
    assert status["endpointArn"].split(":")[4] == "444455556666"
    callers = emulator.admin.counters()["callers"]
    assert CROSS_ACCOUNT_ROLE in callers and set(callers[CROSS_ACCOUNT_ROLE]) >= {
        "CreateModel", "CreateEndpointConfig", "CreateEndpoint"}
    # Not visible to the operator's own account; visible as the role.
    assert sagemaker(emulator.url).list_endpoints()["Endpoints"] == []
    credentials = boto3.client("sts", endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="x",
                               aws_secret_access_key="x").assume_role(
        RoleArn=CROSS_ACCOUNT_ROLE, RoleSessionName="test")["Credentials"]
    as_role = boto3.client("sagemaker-runtime", endpoint_url=emulator.url, region_name=REGION,
                           aws_access_key_id=credentials["AccessKeyId"],
                           aws_secret_access_key=credentials["SecretAccessKey"],
                           aws_session_token=credentials["SessionToken"])
    answer = as_role.invoke_endpoint(EndpointName="forecaster", Body=b"{}", ContentType="application/json")
    assert answer["InvokedProductionVariant"] == "AllTraffic"


def _batch_transform(emulator: EmulatorThread, objects: Objects) -> None:
    status = (objects.get("SageMakerTransformJob", "churn-scores") or {})["status"]
    assert (status["jobStatus"], status["outputObjects"]) == ("Completed", 1)
    body = s3(emulator.url).get_object(Bucket="example-data", Key="batch-transform/output/customers.csv.out")["Body"]
    lines = body.read().decode().splitlines()
    # One line per customer: the ID kept, the model's answer joined.
    assert [line.split(",")[0] for line in lines] == ["c-1001", "c-1002", "c-1003", "c-1004"]


CHECKS: dict[str, Callable[[EmulatorThread, Objects], None]] = {
    "single-model": _single_model, "ab-test": _ab_test, "canary-rollback": _canary_rollback,
    "serverless": _serverless, "async-inference": _async_inference, "data-capture": _data_capture,
    "inference-components": _inference_components, "autoscaled-variant": _autoscaled_variant,
    "cross-account": _cross_account, "batch-transform": _batch_transform,
}


def test_every_example_folder_has_a_check() -> None:
    assert sorted(CHECKS) == [folder.name for folder in FOLDERS]


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_example_is_accepted_and_becomes_ready(
        folder: Path, kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str,
        emulator: EmulatorThread, tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    documents = load_manifests(folder)
    started = time.monotonic()
    seed_example_data(emulator.url, folder)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(objects, documents)
        for document in documents:
            objects.wait_condition(document["kind"], document["metadata"]["name"], "Ready", timeout=45)
        CHECKS[folder.name](emulator, objects)
    print(f"{folder.name}: {len(documents)} objects Ready in {time.monotonic() - started:.1f} s")


def test_canary_example_rolls_back_when_its_alarm_fires(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    """What examples/canary-rollback/README.md shows: an update while an alarm is in ALARM is rolled back."""
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(objects, load_manifests(EXAMPLES_DIR / "canary-rollback"))
        before = objects.wait_condition(ENDPOINT, "fraud-detector", "Ready", timeout=45)
        old_config = before["status"]["currentEndpointConfigName"]

        emulator.admin.set_alarm("fraud-detector-5xx", "ALARM")
        objects.patch(MODEL, "fraud-detector", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detector:3.2.0"}}})

        after = objects.wait_condition(ENDPOINT, "fraud-detector", "Degraded", reason="UpdateFailed", timeout=45)
        assert "fraud-detector-5xx" in (objects.condition(ENDPOINT, "fraud-detector", "Degraded") or {})["message"]
        assert after["status"]["currentEndpointConfigName"] == old_config
        described = sagemaker(emulator.url).describe_endpoint(EndpointName="fraud-detector")
        assert described["EndpointStatus"] == "InService"
        assert described["EndpointConfigName"] == old_config
        assert "fraud-detector-5xx" in described["FailureReason"]
        assert counters(emulator).get("UpdateEndpoint") == 1
