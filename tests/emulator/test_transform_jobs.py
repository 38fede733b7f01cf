"""Batch transform jobs in the emulator: the API (validated against botocore's model), the lifecycle, and jobs that
really read S3, answer every record and write ``.out`` objects."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import REGION, ROLE, client, error_of, make_model, wait_until

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.batch_data import recordio_record
from sagemaker_emulator.server import EmulatorThread

LOG_GROUP = "/aws/sagemaker/TransformJobs"


@pytest.fixture
def s3(emulator: EmulatorThread) -> Any:
    s3 = client(emulator, "s3")
    s3.create_bucket(Bucket="in-bucket")
    s3.create_bucket(Bucket="out-bucket")
    return s3


@pytest.fixture
def logs(emulator: EmulatorThread) -> Any:
    return client(emulator, "logs")


def job(sm: Any, name: str = "job", uri: str = "s3://in-bucket/data/", output: str = "s3://out-bucket/results", *,
        split: str = "None", assemble: str | None = None, strategy: str | None = None, model: str = "m",
        content_type: str | None = None, **extra: Any) -> str:
    transform_input: dict[str, Any] = {
        "DataSource": {"S3DataSource": {"S3DataType": extra.pop("data_type", "S3Prefix"), "S3Uri": uri}},
        "SplitType": split,
    }
    if content_type:
        transform_input["ContentType"] = content_type
    if extra.get("compression"):
        transform_input["CompressionType"] = extra.pop("compression")
    transform_output: dict[str, Any] = {"S3OutputPath": output}
    if assemble:
        transform_output["AssembleWith"] = assemble
    params: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": transform_output,
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    }
    if strategy:
        params["BatchStrategy"] = strategy
    return str(sm.create_transform_job(**params)["TransformJobArn"])


def finished(sm: Any, name: str = "job") -> dict[str, Any]:
    return dict(wait_until(lambda: (d := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"]
                           in ("Completed", "Failed", "Stopped") and d))


def read(s3: Any, key: str, bucket: str = "out-bucket") -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def lines_of(body: bytes) -> list[Any]:
    return [json.loads(line) for line in body.decode().splitlines()]


@pytest.fixture
def model(sm: Any) -> None:
    make_model(sm, "m")


# ------------------------------------------------------------------------------------------ completed jobs
@pytest.mark.usefixtures("model")
def test_line_split_multi_record_assembled_by_line(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.jsonl", Body=b'{"x": 1}\n{"x": 2}\n')
    s3.put_object(Bucket="in-bucket", Key="data/sub/b.jsonl", Body=b'{"x": 3}\n')
    arn = job(sm, split="Line", assemble="Line", strategy="MultiRecord", content_type="application/jsonlines")
    assert arn == f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/job"
    described = finished(sm)
    assert described["TransformJobStatus"] == "Completed"
    assert "TransformEndTime" in described and described["ModelName"] == "m"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="out-bucket")["Contents"]]
    assert keys == ["results/a.jsonl.out", "results/sub/b.jsonl.out"]
    answers = lines_of(read(s3, "results/a.jsonl.out"))
    assert [a["input"] for a in answers] == [{"x": 1}, {"x": 2}]
    assert answers[0]["model"] == "m" and answers[0]["transform_job"] == "job"
    assert read(s3, "results/a.jsonl.out").endswith(b"\n")


@pytest.mark.usefixtures("model")
def test_no_split_is_one_record_per_object_and_none_assembly_concatenates(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/whole.txt", Body=b"line one\nline two\n")
    job(sm, strategy="SingleRecord")
    assert finished(sm)["TransformJobStatus"] == "Completed"
    body = read(s3, "results/whole.txt.out")
    assert json.loads(body)["input"] == "line one\nline two\n"


@pytest.mark.usefixtures("model")
def test_line_split_without_line_assembly_concatenates_answers(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.csv", Body=b"1,2\n3,4\n")
    job(sm, split="Line", strategy="SingleRecord", content_type="text/csv")
    assert finished(sm)["TransformJobStatus"] == "Completed"
    body = read(s3, "results/a.csv.out").decode()
    assert body.count('"endpoint"') == 2 and "\n" not in body


@pytest.mark.usefixtures("model")
def test_recordio_split(sm: Any, s3: Any) -> None:
    body = recordio_record(b'{"r": 1}') + recordio_record(b'{"r": 2}')
    s3.put_object(Bucket="in-bucket", Key="data/r.rec", Body=body)
    job(sm, split="RecordIO", assemble="Line")
    assert finished(sm)["TransformJobStatus"] == "Completed"
    assert [a["input"] for a in lines_of(read(s3, "results/r.rec.out"))] == [{"r": 1}, {"r": 2}]


@pytest.mark.usefixtures("model")
def test_gzip_input_and_manifest_file(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="elsewhere/one.jsonl", Body=gzip.compress(b'{"m": 1}\n'))
    s3.put_object(Bucket="in-bucket", Key="elsewhere/two.jsonl", Body=gzip.compress(b'{"m": 2}\n'))
    s3.put_object(Bucket="in-bucket", Key="elsewhere/skipped.jsonl", Body=gzip.compress(b'{"m": 3}\n'))
    manifest = [{"prefix": "s3://in-bucket/elsewhere/"}, "one.jsonl", "two.jsonl"]
    s3.put_object(Bucket="in-bucket", Key="manifest.json", Body=json.dumps(manifest).encode())
    job(sm, uri="s3://in-bucket/manifest.json", data_type="ManifestFile", split="Line", assemble="Line",
        compression="Gzip")
    assert finished(sm)["TransformJobStatus"] == "Completed"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="out-bucket")["Contents"]]
    assert keys == ["results/one.jsonl.out", "results/two.jsonl.out"]
    assert lines_of(read(s3, "results/two.jsonl.out"))[0]["input"] == {"m": 2}


@pytest.mark.usefixtures("model")
def test_csv_input_filter_join_and_output_filter(sm: Any, s3: Any) -> None:
    """The documented pattern: drop the ID column for the model, join the input back, keep ID and prediction."""
    s3.put_object(Bucket="in-bucket", Key="data/rows.csv", Body=b"id1,5,6\nid2,7,8\n")
    job(sm, split="Line", assemble="Line", content_type="text/csv",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    assert finished(sm)["TransformJobStatus"] == "Completed"
    rows = read(s3, "results/rows.csv.out").decode().splitlines()
    assert [r.split(",", 1)[0] for r in rows] == ["id1", "id2"]
    answer = json.loads(rows[0].split(",", 1)[1].strip('"').replace('""', '"'))
    assert answer["input"] == "5,6"


@pytest.mark.usefixtures("model")
def test_json_join_puts_the_output_under_sagemaker_output(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/j.jsonl", Body=b'{"id": 1, "features": [1, 2]}\n')
    job(sm, split="Line", assemble="Line", content_type="application/jsonlines",
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                        "OutputFilter": "$['id','SageMakerOutput']"})
    assert finished(sm)["TransformJobStatus"] == "Completed"
    (row,) = lines_of(read(s3, "results/j.jsonl.out"))
    assert set(row) == {"id", "SageMakerOutput"}
    assert row["id"] == 1 and row["SageMakerOutput"]["input"] == [1, 2]


# ------------------------------------------------------------------------------------------ failures
@pytest.mark.usefixtures("model")
def test_no_object_under_the_prefix_is_refused_at_create(sm: Any, s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        job(sm, uri="s3://in-bucket/empty/")
    assert error_of(exc) == (
        "ValidationException",
        'No S3 objects found under S3 URL "s3://in-bucket/empty/" given in input data source. Please ensure that the '
        f"bucket exists in the selected region ({REGION}), that objects exist under that S3 prefix, and that the "
        f'role "{ROLE}" has "s3:ListBucket" permissions on bucket "in-bucket".',
        400,
    )


@pytest.mark.usefixtures("model")
def test_record_over_max_payload_fails_the_job_and_keeps_other_outputs(sm: Any, s3: Any, logs: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/big.txt", Body=b"x" * (1024 * 1024 + 1))
    s3.put_object(Bucket="in-bucket", Key="data/small.txt", Body=b"ok")
    job(sm, MaxPayloadInMB=1)
    described = finished(sm)
    assert (described["TransformJobStatus"], described["FailureReason"]) == (
        "Failed", "ClientError: See job logs for more information")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="out-bucket")["Contents"]] == ["results/small.txt.out"]
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]]
    data_log = next(s for s in streams if s.endswith("/data-log"))
    messages = [e["message"] for e in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=data_log)["events"]]
    assert any("in-bucket/data/big.txt: ClientError: Too much data for max payload size" in m for m in messages)
    assert "MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD" in messages[0]


def test_a_model_marked_to_fail_fails_the_job(sm: Any, s3: Any) -> None:
    make_model(sm, "bad", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/fail:1")
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    job(sm, model="bad")
    described = finished(sm)
    assert (described["TransformJobStatus"], described["FailureReason"]) == (
        "Failed", "AlgorithmError: See job logs for more information")
    assert "Contents" not in s3.list_objects_v2(Bucket="out-bucket")


@pytest.mark.usefixtures("model")
def test_admin_failure_trigger(sm: Any, s3: Any, admin: AdminClient) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    admin.fail_next("transform-job", "job", operation="create", reason="CapacityError: no capacity")
    job(sm)
    assert finished(sm)["FailureReason"] == "CapacityError: no capacity"


def test_missing_model_and_duplicate_name(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    with pytest.raises(ClientError) as exc:
        job(sm, model="nope")
    assert error_of(exc)[:2] == (
        "ValidationException", f'Could not find model "arn:aws:sagemaker:{REGION}:123456789012:model/nope".')
    make_model(sm, "m")
    arn = job(sm)
    with pytest.raises(ClientError) as exc:
        job(sm)
    assert error_of(exc)[:2] == (
        "ResourceInUse",
        f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")


@pytest.mark.usefixtures("model")
def test_unsupported_jsonpath_is_refused(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    with pytest.raises(ClientError) as exc:
        job(sm, DataProcessing={"InputFilter": "$..deep"})
    assert error_of(exc)[0] == "ValidationException"


def test_request_validated_by_botocore_model(sm_raw: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sm_raw.create_transform_job(TransformJobName="bad_name", ModelName="m",
                                    TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                                     "S3Uri": "s3://in-bucket/x"}}},
                                    TransformOutput={"S3OutputPath": "s3://out-bucket"},
                                    TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
                                    BatchStrategy="Sometimes")
    code, message, _ = error_of(exc)
    assert code == "ValidationException" and message.startswith("2 validation errors detected:")
    assert "at 'transformJobName'" in message and "at 'batchStrategy'" in message


# ------------------------------------------------------------------------------------------ lifecycle
@pytest.mark.usefixtures("model")
def test_status_sequence_and_stop(sm: Any, s3: Any, admin: AdminClient) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    admin.set_durations(transform=30, delete=0.3)
    job(sm)
    assert sm.describe_transform_job(TransformJobName="job")["TransformJobStatus"] == "InProgress"
    sm.stop_transform_job(TransformJobName="job")
    assert sm.describe_transform_job(TransformJobName="job")["TransformJobStatus"] == "Stopping"
    assert finished(sm)["TransformJobStatus"] == "Stopped"
    assert "Contents" not in s3.list_objects_v2(Bucket="out-bucket")
    with pytest.raises(ClientError) as exc:
        sm.stop_transform_job(TransformJobName="job")
    assert error_of(exc)[:2] == (
        "ValidationException", "The request was rejected because the transform job is in status Stopped.")
    with pytest.raises(ClientError) as exc:
        sm.describe_transform_job(TransformJobName="gone")
    assert error_of(exc)[:2] == ("ResourceNotFound", "Could not find requested job with name gone")


@pytest.mark.usefixtures("model")
def test_output_is_written_on_time_without_anyone_asking(sm: Any, s3: Any, admin: AdminClient) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    admin.set_durations(transform=0.2)
    job(sm)
    wait_until(lambda: s3.list_objects_v2(Bucket="out-bucket").get("KeyCount", 0) == 1, timeout=5)


@pytest.mark.usefixtures("model")
def test_list_filters_sorts_and_paginates(sm: Any, s3: Any, admin: AdminClient) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    for name in ("alpha", "beta", "gamma"):
        job(sm, name=name)
    admin.set_durations(transform=60)
    job(sm, name="delta")
    listed = sm.list_transform_jobs(SortBy="Name", SortOrder="Ascending")["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in listed] == ["alpha", "beta", "delta", "gamma"]
    assert [j["TransformJobName"] for j in sm.list_transform_jobs(StatusEquals="InProgress")
            ["TransformJobSummaries"]] == ["delta"]
    assert [j["TransformJobName"] for j in sm.list_transform_jobs(NameContains="ph")
            ["TransformJobSummaries"]] == ["alpha"]
    first = sm.list_transform_jobs(MaxResults=2)
    assert [j["TransformJobName"] for j in first["TransformJobSummaries"]] == ["delta", "gamma"]
    rest = sm.list_transform_jobs(MaxResults=2, NextToken=first["NextToken"])
    assert [j["TransformJobName"] for j in rest["TransformJobSummaries"]] == ["beta", "alpha"]
    assert "NextToken" not in rest


@pytest.mark.usefixtures("model")
def test_container_logs(sm: Any, s3: Any, logs: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    job(sm)
    finished(sm)
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=LOG_GROUP,
                                                                     logStreamNamePrefix="job/")["logStreams"]]
    container = next(s for s in streams if not s.endswith("/data-log"))
    assert container.startswith("job/i-")
    messages = [e["message"] for e in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=container,
                                                          startFromHead=True)["events"]]
    assert any("GET /ping 200" in m for m in messages)
    assert any("1 invocations served, 1 objects written" in m for m in messages)


@pytest.mark.usefixtures("model")
def test_tags_on_a_transform_job(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket="in-bucket", Key="data/a.txt", Body=b"a")
    arn = job(sm, Tags=[{"Key": "team", "Value": "ml"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
