"""SageMakerTransformJob against the API server and the emulator, whose jobs really read and write S3: runs as
batch/v1 Jobs behave (complete, retried within backoffLimit, stopped at the deadline, stopped on delete, a new run
per spec and one run per spec), and bad input refused or reported naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.crd_helpers import enforces_cel
from tests.helpers import wait_for
from tests.operator_harness import REGION, Objects, counters, model_spec, running_operator, s3

pytestmark = pytest.mark.cluster
MODEL, JOB = "SageMakerModel", "SageMakerTransformJob"
BUCKET = "batch-data"
ROWS = {"in/a.csv": "1,5.0,2.0\n2,1.0,7.5\n3,0.5,0.5\n", "in/b.csv": "4,9.0,1.0\n"}



@pytest.fixture
def data(emulator: EmulatorThread) -> Iterator[Any]:
    """Input objects in the emulator's S3; the lifecycle durations restored afterwards."""
    client = s3(emulator.url)
    client.create_bucket(Bucket=BUCKET)
    for key, body in ROWS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    durations = emulator.admin.durations()
    yield client
    emulator.admin.set_durations(**durations)


def job_spec(output: str = "out/", **extra: Any) -> dict[str, Any]:
    return {"modelRef": {"name": "scorer"}, "batchStrategy": "MultiRecord",
            "transformInput": {"dataSource": {"s3DataSource": {"s3DataType": "S3Prefix",
                                                                "s3Uri": f"s3://{BUCKET}/in/"}},
                               "contentType": "text/csv", "splitType": "Line"},
            "transformOutput": {"s3OutputPath": f"s3://{BUCKET}/{output}", "assembleWith": "Line",
                                "accept": "text/csv"},
            "transformResources": {"instanceType": "ml.m5.xlarge", "instanceCount": 1},
            "dataProcessing": {"inputFilter": "$[1:]", "joinSource": "Input", "outputFilter": "$[0,-1]"},
            **extra}


def creates(emulator: EmulatorThread) -> int:
    return counters(emulator).get("CreateTransformJob", 0)


def test_a_job_runs_once_per_spec_writes_its_output_and_is_a_record(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        data: Any, tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "scorer", model_spec())
        objects.create(JOB, "nightly", job_spec())
        job = objects.wait_condition(JOB, "nightly", "Complete", timeout=60)
        status = job["status"]
        assert status["jobStatus"] == "Completed" and status["outputObjects"] == 2
        assert [a["jobStatus"] for a in status["attempts"]] == ["Completed"]
        assert status["jobName"].startswith("nightly-") and status["durationSeconds"] >= 0
        assert objects.condition(JOB, "nightly", "Ready")["status"] == "True"
        assert objects.condition(JOB, "nightly", "Failed")["status"] == "False"
        # Every input row, its ID kept and the model's answer joined (InputFilter, JoinSource, OutputFilter).
        out = data.get_object(Bucket=BUCKET, Key="out/a.csv.out")["Body"].read().decode().splitlines()
        assert [line.split(",")[0] for line in out] == ["1", "2", "3"]
        objects.wait_events("nightly", "Started", "Completed")

        # The same spec applied again, and a new model revision: no second run (a finished run is a record).
        ran = creates(emulator)
        objects.patch(JOB, "nightly", {"metadata": {"labels": {"touched": "yes"}}, "spec": job_spec()})
        objects.patch(MODEL, "scorer", {"spec": model_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2")})
        objects.wait_condition(MODEL, "scorer", "Ready")
        objects.wait_condition(JOB, "nightly", "Complete")
        assert creates(emulator) == ran

        # A changed spec is a new run, under a new name, with the model's current revision.
        first = status["jobName"]
        objects.patch(JOB, "nightly", {"spec": job_spec(output="out-2/")})
        wait_for(lambda: (objects.get(JOB, "nightly") or {}).get("status", {}).get("jobName") not in (None, first),
                 timeout=30, what="the new run")
        job = objects.wait_condition(JOB, "nightly", "Complete", timeout=60)
        assert creates(emulator) == ran + 1
        assert job["status"]["modelName"] == objects.get(MODEL, "scorer")["status"]["modelName"]
        assert data.list_objects_v2(Bucket=BUCKET, Prefix="out-2/")["KeyCount"] == 2

        # Deleting a finished job leaves AWS's record alone and lets the model go.
        objects.delete(JOB, "nightly")
        objects.wait_gone(JOB, "nightly")
        objects.delete(MODEL, "scorer")
        objects.wait_gone(MODEL, "scorer")


def test_a_failed_job_is_retried_within_its_backoff_limit_then_failed(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        data: Any, tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        # The emulator fails every run of a model whose image says "fail", as a broken container would.
        objects.create(MODEL, "scorer", model_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/fail:1"))
        objects.create(JOB, "flaky", job_spec(backoffLimit=1))
        job = objects.wait_condition(JOB, "flaky", "Failed", timeout=60)
        status = job["status"]
        assert [a["jobStatus"] for a in status["attempts"]] == ["Failed", "Failed"]
        assert status["jobName"].endswith("-1") and "AlgorithmError" in status["failureReason"]
        assert objects.condition(JOB, "flaky", "Degraded")["status"] == "True"
        assert creates(emulator) == 2
        objects.wait_events("flaky", "Started")
        objects.wait_events("flaky", "Retrying", "Failed", warning=True)


def test_the_deadline_stops_a_run_and_deleting_a_running_job_stops_it(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        data: Any, tmp_path: Path) -> None:
    emulator.admin.set_durations(transform=120)
    objects = Objects(admin_client, namespace)
    sagemaker = boto3.client("sagemaker", endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "scorer", model_spec())
        objects.create(JOB, "slow", job_spec(activeDeadlineSeconds=2))
        job = objects.wait_condition(JOB, "slow", "Failed", reason="DeadlineExceeded", timeout=60)
        assert sagemaker.describe_transform_job(TransformJobName=job["status"]["jobName"])[
            "TransformJobStatus"] == "Stopped"

        # A spec change while a run is in progress: the run is stopped, then the new one starts.
        objects.create(JOB, "changed", job_spec(output="changed/"))
        before = wait_for(lambda: (objects.get(JOB, "changed") or {}).get("status", {}).get("jobName"),
                          timeout=30, what="the first run to start")
        objects.patch(JOB, "changed", {"spec": job_spec(output="changed-2/")})
        after = wait_for(lambda: ((objects.get(JOB, "changed") or {}).get("status", {}).get("jobName")
                                  if (objects.get(JOB, "changed") or {}).get("status", {}).get("jobName") != before
                                  else None), timeout=60, what="the new run to start")
        assert sagemaker.describe_transform_job(TransformJobName=before)["TransformJobStatus"] == "Stopped"
        assert sagemaker.describe_transform_job(TransformJobName=after)["TransformJobStatus"] == "InProgress"
        objects.wait_events("changed", "Superseded")

        objects.create(JOB, "cancelled", job_spec(output="cancelled/"))
        running = wait_for(lambda: (objects.get(JOB, "cancelled") or {}).get("status", {}).get("jobName"),
                           timeout=30, what="the run to start")
        objects.delete(JOB, "cancelled")
        objects.wait_gone(JOB, "cancelled", timeout=60)
        assert sagemaker.describe_transform_job(TransformJobName=running)["TransformJobStatus"] == "Stopped"


def test_bad_input_is_refused_or_reported_naming_the_field(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        data: Any, tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    both = job_spec(modelName="literal")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        if enforces_cel(admin_client):
            with pytest.raises(Exception, match="set exactly one of modelRef and modelName"):
                objects.create(JOB, "both", both)
        else:
            objects.create(JOB, "both", both)
            job = objects.wait_condition(JOB, "both", "Degraded", reason="InvalidSpec")
            assert "set exactly one of modelRef and modelName" in objects.condition(JOB, "both", "Degraded")["message"]
            assert job["status"].get("jobName") is None
        # An empty input prefix: AWS refuses the job, and the message names the S3 URI.
        objects.create(MODEL, "scorer", model_spec())
        empty = job_spec()
        empty["transformInput"]["dataSource"]["s3DataSource"]["s3Uri"] = f"s3://{BUCKET}/nothing-here/"
        objects.create(JOB, "empty", empty)
        objects.wait_condition(JOB, "empty", "Degraded", reason="AwsRejected")
        assert "nothing-here" in objects.condition(JOB, "empty", "Degraded")["message"]
