"""The operator against the real API server and the emulator: create, update (fast path and new fleet), failure,
drift, ownership and deletion of SageMaker endpoints."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.dev.cluster import free_port
from tests.conftest import KubeTarget
from tests.helpers import wait_for
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
        objects.wait_events("churn", "Created")

        calls = counters(emulator)
        assert calls.get("CreateModel") == 1
        assert calls.get("CreateEndpointConfig") == 1
        assert calls.get("CreateEndpoint") == 1


def _create_chain(objects: Objects, name: str, *, image: str | None = None, history: int | None = None,
                  variants: tuple[tuple[str, str, float, int], ...] | None = None) -> None:
    extra = {"revisionHistoryLimit": history} if history is not None else {}
    objects.create(MODEL, name, model_spec(image, **extra) if image else model_spec(**extra))
    objects.create(CONFIG, name, config_spec(*(variants or ((("primary", name, 1.0, 1),))), **extra))
    objects.create(ENDPOINT, name, {"endpointConfigRef": {"name": name}})


def test_weight_and_count_change_is_applied_in_place(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "ab", model_spec())
        objects.create(CONFIG, "ab", config_spec(("a", "ab", 0.5, 1), ("b", "ab", 0.5, 1)))
        objects.create(ENDPOINT, "ab", {"endpointConfigRef": {"name": "ab"}})
        before = objects.wait_condition(ENDPOINT, "ab", "Ready")
        config_name = before["status"]["currentEndpointConfigName"]

        objects.patch(CONFIG, "ab", {"spec": config_spec(("a", "ab", 0.95, 2), ("b", "ab", 0.05, 1))})

        def shifted() -> dict[str, Any] | None:
            endpoint = objects.get(ENDPOINT, "ab") or {}
            variants = {v["variantName"]: v for v in endpoint.get("status", {}).get("productionVariants", [])}
            ready = objects.condition(ENDPOINT, "ab", "Ready") or {}
            if (variants.get("a", {}).get("currentWeight") == 0.95 and variants["a"].get("currentInstanceCount") == 2
                    and ready.get("status") == "True"):
                return endpoint
            return None

        after = wait_for(shifted, timeout=60, what="the new weights and counts to be live")
        assert after["status"]["currentEndpointConfigName"] == config_name
        calls = counters(emulator)
        assert calls.get("UpdateEndpointWeightsAndCapacities") == 1
        assert calls.get("UpdateEndpoint", 0) == 0
        assert calls.get("CreateEndpointConfig") == 1


def test_model_change_rolls_out_with_zero_failed_invocations_and_collects_old_revisions(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    runtime = boto3.client("sagemaker-runtime", endpoint_url=emulator.url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x",
                           config=Config(retries={"total_max_attempts": 1}))
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "fraud", history=0)
        first = objects.wait_condition(ENDPOINT, "fraud", "Ready")
        old_config = first["status"]["currentEndpointConfigName"]
        old_model = (objects.get(MODEL, "fraud") or {})["status"]["modelName"]

        failures: list[str] = []
        served_images: set[str] = set()
        stop = threading.Event()

        def invoke_forever() -> None:
            while not stop.is_set():
                try:
                    answer = runtime.invoke_endpoint(EndpointName="fraud", Body=b'{"x": 1}',
                                                     ContentType="application/json")
                    served_images.add(json.loads(answer["Body"].read())["image"])
                except Exception as error:  # every failure counts, whatever its type
                    failures.append(repr(error))

        prober = threading.Thread(target=invoke_forever)
        prober.start()
        try:
            objects.patch(MODEL, "fraud", {"spec": {"primaryContainer": {
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"}}})

            def rolled_out() -> dict[str, Any] | None:
                endpoint = objects.get(ENDPOINT, "fraud") or {}
                current = endpoint.get("status", {}).get("currentEndpointConfigName")
                ready = objects.condition(ENDPOINT, "fraud", "Ready") or {}
                return endpoint if current and current != old_config and ready.get("status") == "True" else None

            after = wait_for(rolled_out, timeout=60, what="the endpoint to run the new config")
        finally:
            stop.set()
            prober.join()
        assert failures == []
        assert any(image.endswith("model:2") for image in served_images)
        assert after["status"]["lastDeployment"]["outcome"] == "Succeeded"
        objects.wait_events("fraud", "UpdateStarted", "UpdateSucceeded")

        client = sagemaker(emulator.url)

        def collected() -> bool:
            models = {m["ModelName"] for m in client.list_models()["Models"]}
            configs = {c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]}
            return old_model not in models and old_config not in configs and len(models) == 1 and len(configs) == 1

        wait_for(collected, timeout=30, what="the old model and config to be garbage-collected")
        calls = counters(emulator)
        assert calls.get("UpdateEndpoint") == 1
        assert calls.get("CreateModel") == 2
        assert calls.get("CreateEndpointConfig") == 2


def test_failed_update_is_degraded_not_retried_and_a_fixed_spec_recovers(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "risk")
        good = objects.wait_condition(ENDPOINT, "risk", "Ready")
        good_config = good["status"]["currentEndpointConfigName"]

        # The emulator fails any update to a model whose image contains "fail".
        objects.patch(MODEL, "risk", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:fail"}}})
        degraded = objects.wait_condition(ENDPOINT, "risk", "Degraded", reason="UpdateFailed")
        assert "health check" in objects.condition(ENDPOINT, "risk", "Degraded")["message"]  # type: ignore[index]
        assert degraded["status"]["currentEndpointConfigName"] == good_config
        assert degraded["status"]["lastDeployment"]["outcome"] == "Failed"
        objects.wait_events("risk", "UpdateFailed", warning=True)

        # Another reconcile of the endpoint (a spec change of its own) must not retry the same failed config.
        objects.patch(ENDPOINT, "risk", {"spec": {"tags": {"touched": "yes"}}})
        objects.wait_condition(ENDPOINT, "risk", "Degraded", reason="UpdateFailed")
        assert counters(emulator).get("UpdateEndpoint") == 1

        objects.patch(MODEL, "risk", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:3"}}})

        def recovered() -> dict[str, Any] | None:
            endpoint = objects.get(ENDPOINT, "risk") or {}
            current = endpoint.get("status", {}).get("currentEndpointConfigName")
            ready = objects.condition(ENDPOINT, "risk", "Ready") or {}
            return endpoint if ready.get("status") == "True" and current not in (None, good_config) else None

        wait_for(recovered, timeout=60, what="the endpoint to recover on the corrected model")
        assert counters(emulator).get("UpdateEndpoint") == 2


def test_revert_reuses_the_retained_revision(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    original = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "rev", image=original)
        first = objects.wait_condition(ENDPOINT, "rev", "Ready")["status"]["currentEndpointConfigName"]
        for image in ("123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2", original):
            objects.patch(MODEL, "rev", {"spec": {"primaryContainer": {"image": image}}})
            wait_for(lambda image=image: _runs_image(objects, emulator, "rev", image), timeout=60,
                     what=f"the endpoint to run {image}")
        assert objects.wait_condition(ENDPOINT, "rev", "Ready")["status"]["currentEndpointConfigName"] == first
        calls = counters(emulator)
        # Two distinct specs: two models and two configs were ever created; the revert created nothing.
        assert calls.get("CreateModel") == 2
        assert calls.get("CreateEndpointConfig") == 2
        assert calls.get("UpdateEndpoint") == 2


def _runs_image(objects: Objects, emulator: EmulatorThread, name: str, image: str) -> bool:
    ready = objects.condition(ENDPOINT, name, "Ready") or {}
    if ready.get("status") != "True":
        return False
    described = sagemaker(emulator.url).describe_endpoint(EndpointName=name)
    deployed = [d.get("SpecifiedImage") for v in described.get("ProductionVariants", [])
                for d in v.get("DeployedImages", [])]
    return described["EndpointStatus"] == "InService" and deployed == [image]


def test_drift_is_corrected(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    client = sagemaker(emulator.url)
    args = ["--resync-seconds", "1", "--tag-check-every", "1"]
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", args):
        _create_chain(objects, "drift")
        status = objects.wait_condition(ENDPOINT, "drift", "Ready")["status"]
        arn = status["endpointArn"]

        client.add_tags(ResourceArn=arn, Tags=[{"Key": "sagemaker.operator.dev/name", "Value": "hijacked"}])
        client.delete_tags(ResourceArn=arn, TagKeys=["sagemaker.operator.dev/namespace"])

        def tags_restored() -> bool:
            tags = {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}
            return tags.get("sagemaker.operator.dev/name") == "drift" and \
                tags.get("sagemaker.operator.dev/namespace") == namespace

        wait_for(tags_restored, timeout=30, what="the ownership tags to be restored")

        client.create_endpoint_config(EndpointConfigName="outside", ProductionVariants=[{
            "VariantName": "primary", "ModelName": (objects.get(MODEL, "drift") or {})["status"]["modelName"],
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        client.update_endpoint(EndpointName="drift", EndpointConfigName="outside")
        def switched_back() -> bool:
            described = client.describe_endpoint(EndpointName="drift")
            return bool(described["EndpointConfigName"] == status["currentEndpointConfigName"]
                        and described["EndpointStatus"] == "InService")

        wait_for(switched_back, timeout=30, what="the endpoint to be switched back to its config")

        client.delete_endpoint(EndpointName="drift")
        def recreated() -> bool:
            endpoint = _endpoint_snapshot(emulator).get("drift") or {}
            return bool(endpoint.get("EndpointStatus") == "InService"
                        and (objects.condition(ENDPOINT, "drift", "Ready") or {}).get("status") == "True")

        wait_for(recreated, timeout=30, what="the endpoint deleted outside to be recreated")
        objects.wait_events("drift", "DriftCorrected")


def test_a_foreign_endpoint_is_not_touched(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    client = sagemaker(emulator.url)
    client.create_model(ModelName="theirs", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/theirs:1"})
    client.create_endpoint_config(EndpointConfigName="theirs", ProductionVariants=[{
        "VariantName": "v", "ModelName": "theirs", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    client.create_endpoint(EndpointName="shared-name", EndpointConfigName="theirs")
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "mine", model_spec())
        objects.create(CONFIG, "mine", config_spec(("primary", "mine", 1.0, 1)))
        objects.create(ENDPOINT, "mine", {"endpointName": "shared-name", "endpointConfigRef": {"name": "mine"}})
        objects.wait_condition(ENDPOINT, "mine", "Degraded", reason="NotOwned")
        message = (objects.condition(ENDPOINT, "mine", "Degraded") or {})["message"]
        assert "sagemaker.operator.dev/adopt" in message
        objects.delete(ENDPOINT, "mine")
        objects.wait_gone(ENDPOINT, "mine")
    described = client.describe_endpoint(EndpointName="shared-name")
    assert described["EndpointConfigName"] == "theirs"
    assert described["EndpointStatus"] == "InService"
    assert counters(emulator).get("UpdateEndpoint", 0) == 0
    # Its own create, and at most one attempt of the operator's: a new object is created without a look first
    # (refused as already existing, then described), unless a status was reported before (the endpoint's watch
    # event came before its config's): then it looks first. NotOwned in status makes every later pass look first.
    assert counters(emulator).get("CreateEndpoint", 0) in (1, 2)


@pytest.mark.parametrize("order", [("endpoint", "config", "model"), ("model", "config", "endpoint")])
def test_deletion_in_any_order_leaves_nothing_behind(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path, order: tuple[str, str, str]) -> None:
    objects = Objects(admin_client, namespace)
    kinds = {"endpoint": ENDPOINT, "config": CONFIG, "model": MODEL}
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "gone")
        objects.wait_condition(ENDPOINT, "gone", "Ready")
        for what in order:
            objects.delete(kinds[what], "gone")
        if order[0] == "model":
            # The model waits for its config, and says so.
            wait_for(lambda: (objects.condition(MODEL, "gone", "Progressing") or {}).get("reason")
                     == "WaitingForDependents" or objects.get(MODEL, "gone") is None, timeout=30,
                     what="the model to report what it waits for")
        for kind in kinds.values():
            objects.wait_gone(kind, "gone", timeout=60)
    assert emulator.admin.resources() == []


def test_a_region_change_moves_nothing_and_deletion_still_finds_the_resources(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "pinned")
        objects.wait_condition(ENDPOINT, "pinned", "Ready")
        before = emulator.admin.resources()
        for kind in (MODEL, CONFIG, ENDPOINT):
            objects.patch(kind, "pinned", {"spec": {"region": "eu-west-1"}})
        for kind in (MODEL, CONFIG, ENDPOINT):
            objects.wait_condition(kind, "pinned", "Degraded", reason="InvalidSpec")
            message = (objects.condition(kind, "pinned", "Degraded") or {})["message"]
            assert message.startswith("spec.region: this object's AWS resources are in us-east-1 and cannot move "
                                      "to eu-west-1"), message
        # Nothing was created in the new region, nothing touched in the old one.
        assert sorted((r["kind"], r["name"], r["region"]) for r in emulator.admin.resources()) == \
            sorted((r["kind"], r["name"], r["region"]) for r in before)
        for kind in (ENDPOINT, CONFIG, MODEL):
            objects.delete(kind, "pinned")
        for kind in (ENDPOINT, CONFIG, MODEL):
            objects.wait_gone(kind, "pinned", timeout=60)
    assert emulator.admin.resources() == [], "deletion must look where the resources are, not where the spec points"


def test_operator_killed_mid_update_finishes_it_after_restart(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    emulator.admin.set_durations(update=3.0)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "first.log") as first:
        _create_chain(objects, "crash")
        old = objects.wait_condition(ENDPOINT, "crash", "Ready")["status"]["currentEndpointConfigName"]
        objects.patch(MODEL, "crash", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"}}})
        wait_for(lambda: sagemaker(emulator.url).describe_endpoint(EndpointName="crash")["EndpointStatus"]
                 == "Updating", timeout=30, what="the update to start")
        first.kill()
        first.wait()
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "second.log"):
        def finished() -> bool:
            status = (objects.get(ENDPOINT, "crash") or {}).get("status", {})
            ready = objects.condition(ENDPOINT, "crash", "Ready") or {}
            return ready.get("status") == "True" and status.get("currentEndpointConfigName") not in (None, old)

        wait_for(finished, timeout=60, what="the restarted operator to finish the update")
    calls = counters(emulator)
    assert calls.get("UpdateEndpoint") == 1
    assert calls.get("CreateModel") == 2
    assert calls.get("CreateEndpointConfig") == 2
    assert calls.get("CreateEndpoint") == 1


def test_failed_create_is_degraded_and_a_new_spec_recreates_the_endpoint(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "broken", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/model:fail")
        degraded = objects.wait_condition(ENDPOINT, "broken", "Degraded", reason="CreateFailed")
        assert degraded["status"]["endpointStatus"] == "Failed"
        assert degraded["status"]["failureReason"]
        objects.patch(MODEL, "broken", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"}}})
        ready = objects.wait_condition(ENDPOINT, "broken", "Ready", timeout=60)
        assert ready["status"]["endpointStatus"] == "InService"
        calls = counters(emulator)
        assert calls.get("DeleteEndpoint") == 1
        assert calls.get("CreateEndpoint") == 2


def test_retry_annotation_retries_a_failed_update_once(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _create_chain(objects, "again")
        objects.wait_condition(ENDPOINT, "again", "Ready")
        endpoint_name = "again"
        emulator.admin.fail_next("endpoint", endpoint_name, operation="update", reason="capacity: try again")
        objects.patch(MODEL, "again", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"}}})
        objects.wait_condition(ENDPOINT, "again", "Degraded", reason="UpdateFailed")
        assert counters(emulator).get("UpdateEndpoint") == 1
        objects.patch(ENDPOINT, "again", {"metadata": {"annotations": {"sagemaker.operator.dev/retry": "1"}}})
        ready = objects.wait_condition(ENDPOINT, "again", "Ready", timeout=60)
        assert ready["status"]["lastDeployment"]["outcome"] == "Succeeded"
        assert counters(emulator).get("UpdateEndpoint") == 2


def test_assume_role_arn_makes_calls_as_that_role(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    role = "arn:aws:iam::210987654321:role/sagemaker-deployer"
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "xacct", model_spec(assumeRoleArn=role))
        objects.create(CONFIG, "xacct", {**config_spec(("primary", "xacct", 1.0, 1)), "assumeRoleArn": role})
        objects.create(ENDPOINT, "xacct", {"endpointConfigRef": {"name": "xacct"}, "assumeRoleArn": role})
        ready = objects.wait_condition(ENDPOINT, "xacct", "Ready")
        assert ":210987654321:" in ready["status"]["endpointArn"]
    callers = emulator.admin.counters()["callers"]
    assert any(role in str(caller) for caller in callers), callers


def test_metrics_are_served(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    port = free_port()
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log",
                          ["--metrics-port", str(port)]):
        _create_chain(objects, "metered")
        objects.wait_condition(ENDPOINT, "metered", "Ready")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    assert 'sagemaker_operator_aws_calls_total{operation="CreateEndpoint",outcome="ok",service="sagemaker"} 1.0' \
        in text
    assert 'sagemaker_operator_reconciles_total{kind="SageMakerEndpoint",result="Ready"}' in text
    assert 'sagemaker_operator_endpoints{status="InService"} 1.0' in text
