"""Artifact-aware revisions on the API server and the emulator's S3: a model file overwritten in place rolls the
endpoint to a new revision with no failed invocation; an unchanged file costs reads only; versioned buckets,
prefixes, pinned ETags, an unreadable bucket, and tracking off."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.integration.test_plugin import kubectl_sagemaker
from tests.operator_harness import (
    Objects,
    config_spec,
    counters,
    model_spec,
    running_operator,
    runtime,
    s3,
    sagemaker,
)

pytestmark = pytest.mark.cluster
MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"
FAST_CHECKS = ["--artifact-check-seconds", "1"]
WRITES = ("Create", "Update", "Delete", "Add", "Put", "Register", "Deregister")



def writes(emulator: EmulatorThread) -> dict[str, int]:
    return {op: n for op, n in counters(emulator).items() if op.startswith(WRITES)}


def tracked(uri: str, **extra: Any) -> dict[str, Any]:
    spec = model_spec(artifactTracking="Enabled", **extra)
    spec["primaryContainer"]["modelDataUrl"] = uri
    return spec


def serve(objects: Objects, name: str, uri: str) -> None:
    """A tracked model of ``uri``, its config and its endpoint, all named ``name``; returns once it serves."""
    objects.create(MODEL, name, tracked(uri))
    objects.create(CONFIG, name, config_spec(("AllTraffic", name, 1.0, 1)))
    objects.create(ENDPOINT, name, {"endpointConfigRef": {"name": name}})
    objects.wait_condition(ENDPOINT, name, "Ready")


def test_an_overwritten_artifact_rolls_the_endpoint_with_no_failed_invocation(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects, bucket = Objects(admin_client, namespace), s3(emulator.url)
    bucket.create_bucket(Bucket="models")
    bucket.put_object(Bucket="models", Key="ranker/model.tar.gz", Body=b"weights v1")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_CHECKS):
        serve(objects, "ranker", "s3://models/ranker/model.tar.gz")
        first = objects.get(MODEL, "ranker")["status"]
        [artifact] = first["artifacts"]
        assert artifact["uri"] == "s3://models/ranker/model.tar.gz" and artifact["etag"]

        # Unchanged: several checks, S3 reads only, no AWS write.
        before, heads = writes(emulator), counters(emulator).get("S3.HEAD", 0)
        wait_for(lambda: counters(emulator).get("S3.HEAD", 0) >= heads + 3, timeout=30, what="three artifact checks")
        assert writes(emulator) == before
        assert objects.get(MODEL, "ranker")["status"]["modelName"] == first["modelName"]

        # Overwritten in place: a new revision, new config, UpdateEndpoint; invocations never fail meanwhile.
        failures: list[str] = []
        served = 0
        stop = threading.Event()

        def invoke() -> None:
            nonlocal served
            client = runtime(emulator.url)
            while not stop.is_set():
                try:
                    client.invoke_endpoint(EndpointName="ranker", Body=b"{}", ContentType="application/json")
                    served += 1
                except Exception as error:  # any failure is what this test is about
                    failures.append(repr(error))
                time.sleep(0.05)

        caller = threading.Thread(target=invoke)
        caller.start()
        try:
            bucket.put_object(Bucket="models", Key="ranker/model.tar.gz", Body=b"weights v2")
            wait_for(lambda: objects.get(MODEL, "ranker")["status"]["modelName"] != first["modelName"], timeout=30,
                     what="a new model revision")
            wait_for(lambda: (objects.get(ENDPOINT, "ranker")["status"].get("currentEndpointConfigName")
                              == objects.get(CONFIG, "ranker")["status"]["endpointConfigName"]
                              and objects.condition(ENDPOINT, "ranker", "Ready")["status"] == "True"),
                     timeout=60, what="the endpoint on the new config")
        finally:
            stop.set()
            caller.join()
        assert failures == [] and served > 0
        status = objects.get(MODEL, "ranker")["status"]
        assert status["artifacts"][0]["etag"] != artifact["etag"]
        # The previous revision is kept for a rollback, with the artifact it was built from.
        assert [r["name"] for r in status["revisions"]] == [status["modelName"], first["modelName"]]
        assert status["revisions"][1]["artifacts"][0]["etag"] == artifact["etag"]
        assert counters(emulator).get("UpdateEndpoint") == 1
        objects.wait_events("ranker", "ArtifactChanged", warning=True)


def test_versioned_buckets_prefixes_and_pinned_etags(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects, bucket = Objects(admin_client, namespace), s3(emulator.url)
    bucket.create_bucket(Bucket="versioned")
    bucket.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    bucket.put_object(Bucket="versioned", Key="m.tar.gz", Body=b"v1")
    bucket.create_bucket(Bucket="shards")
    for part in ("a", "b"):
        bucket.put_object(Bucket="shards", Key=f"llm/{part}.safetensors", Body=part.encode())
    pinned = model_spec(artifactTracking="Enabled")
    pinned["primaryContainer"].pop("modelDataUrl")
    pinned["primaryContainer"]["modelDataSource"] = {"s3DataSource": {
        "s3Uri": "s3://versioned/m.tar.gz", "s3DataType": "S3Object", "compressionType": "Gzip"}}
    prefix = model_spec(artifactTracking="Enabled")
    prefix["primaryContainer"].pop("modelDataUrl")
    prefix["primaryContainer"]["modelDataSource"] = {"s3DataSource": {
        "s3Uri": "s3://shards/llm/", "s3DataType": "S3Prefix", "compressionType": "None"}}
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_CHECKS):
        objects.create(MODEL, "pinned", pinned)
        objects.create(MODEL, "sharded", prefix)
        status = objects.wait_condition(MODEL, "pinned", "Ready")["status"]
        [artifact] = status["artifacts"]
        assert artifact["versionId"]
        # The ETag seen is pinned in the request: SageMaker refuses an instance whose file no longer matches.
        described = sagemaker(emulator.url).describe_model(ModelName=status["modelName"])
        assert described["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["ETag"] == artifact["etag"]
        sharded = objects.wait_condition(MODEL, "sharded", "Ready")["status"]
        assert sharded["artifacts"][0]["objects"] == 2

        bucket.put_object(Bucket="versioned", Key="m.tar.gz", Body=b"v2")
        bucket.put_object(Bucket="shards", Key="llm/c.safetensors", Body=b"c")
        wait_for(lambda: objects.get(MODEL, "pinned")["status"]["artifacts"][0]["versionId"] != artifact["versionId"],
                 timeout=30, what="the new version")
        wait_for(lambda: objects.get(MODEL, "sharded")["status"]["artifacts"][0].get("objects") == 3,
                 timeout=30, what="the new object under the prefix")
        assert objects.get(MODEL, "pinned")["status"]["modelName"] != status["modelName"]
        assert objects.get(MODEL, "sharded")["status"]["modelName"] != sharded["modelName"]


def test_an_unreadable_bucket_is_degraded_naming_the_uri_and_the_endpoint_keeps_serving(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects, bucket = Objects(admin_client, namespace), s3(emulator.url)
    bucket.create_bucket(Bucket="locked")
    bucket.put_object(Bucket="locked", Key="model.tar.gz", Body=b"weights")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_CHECKS):
        serve(objects, "m", "s3://locked/model.tar.gz")
        emulator.admin.deny_bucket("locked")
        objects.wait_condition(MODEL, "m", "Degraded", reason="ArtifactUnreadable", timeout=30)
        message = objects.condition(MODEL, "m", "Degraded")["message"]
        assert "s3://locked/model.tar.gz" in message and "s3:GetObject" in message
        answer = runtime(emulator.url).invoke_endpoint(EndpointName="m", Body=b"{}", ContentType="application/json")
        assert answer["InvokedProductionVariant"] == "AllTraffic"
        # Readable again: Ready, on the same revision (the file did not change).
        name = objects.get(MODEL, "m")["status"]["modelName"]
        emulator.admin.allow_bucket("locked")
        objects.wait_condition(MODEL, "m", "Ready", timeout=30)
        assert objects.get(MODEL, "m")["status"]["modelName"] == name


def test_tracking_off_reads_nothing_from_s3(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects, bucket = Objects(admin_client, namespace), s3(emulator.url)
    bucket.create_bucket(Bucket="watched")
    bucket.put_object(Bucket="watched", Key="model.tar.gz", Body=b"weights")
    # The untracked models' artifacts are in a bucket no one may read: reading it would make them Degraded.
    bucket.create_bucket(Bucket="models")
    emulator.admin.deny_bucket("models")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_CHECKS):
        objects.create(MODEL, "plain", model_spec())
        objects.create(MODEL, "disabled", model_spec(artifactTracking="Disabled"))
        objects.create(MODEL, "watched", tracked("s3://watched/model.tar.gz"))
        objects.wait_condition(MODEL, "watched", "Ready")
        # Three check intervals go by (the tracked model is read each time) ...
        heads = counters(emulator).get("S3.HEAD", 0)
        wait_for(lambda: counters(emulator).get("S3.HEAD", 0) >= heads + 3, timeout=30, what="three artifact checks")
        # ... and the untracked ones were never read.
        for name in ("plain", "disabled"):
            assert objects.condition(MODEL, name, "Ready")["status"] == "True"
            assert "artifacts" not in objects.get(MODEL, name)["status"]


def test_the_plan_says_an_artifact_changed(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects, bucket = Objects(admin_client, namespace), s3(emulator.url)
    bucket.create_bucket(Bucket="plans")
    bucket.put_object(Bucket="plans", Key="model.tar.gz", Body=b"v1")
    spec = tracked("s3://plans/model.tar.gz")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "scorer", spec)
        objects.wait_condition(MODEL, "scorer", "Ready")
    manifest = tmp_path / "scorer.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": MODEL,
                                        "metadata": {"name": "scorer"}, "spec": spec}))
    unchanged = json.loads(kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(manifest), "-o",
                                             "json").stdout)
    assert [c["action"] for c in unchanged] == ["none"], unchanged
    bucket.put_object(Bucket="plans", Key="model.tar.gz", Body=b"v2")
    [change] = json.loads(kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(manifest), "-o",
                                            "json").stdout)
    assert change["action"] == "create" and change["calls"] == ["CreateModel"]
    assert "artifact changed: s3://plans/model.tar.gz: ETag" in change["details"], change
