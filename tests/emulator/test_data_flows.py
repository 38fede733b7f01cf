"""Data that endpoints write as they serve (async results, capture files, container logs), and the update and
Auto Scaling answers that the AWS CLI and the SageMaker SDK found different from AWS."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, REGION, client, error_of, make_config, make_endpoint, make_model, wait_until

from sagemaker_emulator.server import EmulatorThread


@pytest.fixture
def s3(emulator: EmulatorThread) -> Any:
    s3 = client(emulator, "s3")
    s3.create_bucket(Bucket="async-bucket")
    return s3


@pytest.fixture
def logs(emulator: EmulatorThread) -> Any:
    return client(emulator, "logs")


def async_endpoint(sm: Any, name: str = "async-ep") -> None:
    make_model(sm, "m")
    make_config(sm, "async-cfg", ("AllTraffic", "m", 1.0, 1), AsyncInferenceConfig={
        "OutputConfig": {"S3OutputPath": "s3://async-bucket/out", "S3FailurePath": "s3://async-bucket/failed"}})
    sm.create_endpoint(EndpointName=name, EndpointConfigName="async-cfg")
    wait_until(lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")


def test_async_inference_writes_its_output(sm: Any, rt: Any, s3: Any) -> None:
    async_endpoint(sm)
    s3.put_object(Bucket="async-bucket", Key="in/req.json", Body=b'{"x": 1}')
    answer = rt.invoke_endpoint_async(EndpointName="async-ep", InputLocation="s3://async-bucket/in/req.json",
                                      InferenceId="req-1")
    assert answer["OutputLocation"] == "s3://async-bucket/out/req-1.out"
    assert answer["FailureLocation"] == "s3://async-bucket/failed/req-1-error.out"
    result = json.loads(s3.get_object(Bucket="async-bucket", Key="out/req-1.out")["Body"].read())
    assert (result["endpoint"], result["input"]) == ("async-ep", {"x": 1})


def test_async_inference_writes_a_failure_object_when_the_input_is_missing(sm: Any, rt: Any, s3: Any) -> None:
    async_endpoint(sm)
    rt.invoke_endpoint_async(EndpointName="async-ep", InputLocation="s3://async-bucket/in/none.json",
                             InferenceId="req-2")
    failure = json.loads(s3.get_object(Bucket="async-bucket", Key="failed/req-2-error.out")["Body"].read())
    assert "s3://async-bucket/in/none.json" in failure["message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="async-bucket", Key="out/req-2.out")


def capture_endpoint(sm: Any, percentage: int) -> None:
    make_model(sm, "m")
    make_config(sm, "cap-cfg", ("AllTraffic", "m", 1.0, 1), DataCaptureConfig={
        "EnableCapture": True, "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": "s3://async-bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]}})
    sm.create_endpoint(EndpointName="cap-ep", EndpointConfigName="cap-cfg")
    wait_until(lambda: sm.describe_endpoint(EndpointName="cap-ep")["EndpointStatus"] == "InService")


def test_data_capture_files_in_aws_layout_and_format(sm: Any, rt: Any, s3: Any) -> None:
    capture_endpoint(sm, 100)
    rt.invoke_endpoint(EndpointName="cap-ep", Body=b'{"x": 1}', ContentType="application/json")
    rt.invoke_endpoint(EndpointName="cap-ep", Body=b"1,2", ContentType="text/csv")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="async-bucket", Prefix="capture/")["Contents"]]
    assert len(keys) == 2
    pattern = r"^capture/cap-ep/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$"
    assert all(re.match(pattern, k) for k in keys), keys
    records = [json.loads(s3.get_object(Bucket="async-bucket", Key=k)["Body"].read()) for k in keys]
    by_encoding = {r["captureData"]["endpointInput"]["encoding"]: r for r in records}
    json_record = by_encoding["JSON"]
    assert json_record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json", "mode": "INPUT", "data": '{"x": 1}', "encoding": "JSON"}
    output = json_record["captureData"]["endpointOutput"]
    assert (output["mode"], output["encoding"]) == ("OUTPUT", "JSON")
    assert json.loads(output["data"])["input"] == {"x": 1}
    assert json_record["eventVersion"] == "0" and set(json_record["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert by_encoding["BASE64"]["captureData"]["endpointInput"]["data"] == "MSwy"


def test_data_capture_samples(sm: Any, rt: Any, s3: Any) -> None:
    capture_endpoint(sm, 0)
    rt.invoke_endpoint(EndpointName="cap-ep", Body=b"{}", ContentType="application/json")
    assert s3.list_objects_v2(Bucket="async-bucket", Prefix="capture/")["KeyCount"] == 0


def test_endpoint_container_logs(sm: Any, rt: Any, logs: Any) -> None:
    make_endpoint(sm, "ep")
    rt.invoke_endpoint(EndpointName="ep", Body=b"{}")
    group = "/aws/sagemaker/Endpoints/ep"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert re.match(r"^AllTraffic/i-[0-9a-f]{17}$", stream["logStreamName"])
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
    messages = [e["message"] for e in events["events"]]
    assert "GET /ping 200" in messages and messages[-1] == "POST /invocations 200"


def test_failed_endpoint_logs_its_failure_reason(sm: Any, logs: Any) -> None:
    make_model(sm, "bad", image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fail:1")
    make_config(sm, "bad-cfg", ("AllTraffic", "bad", 1.0, 1))
    sm.create_endpoint(EndpointName="bad-ep", EndpointConfigName="bad-cfg")
    events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/bad-ep")["events"]
    reason = sm.describe_endpoint(EndpointName="bad-ep")
    assert reason["EndpointStatus"] == "Failed"
    assert [e["message"] for e in events][-2:] == ["GET /ping 500", f"Container failed: {reason['FailureReason']}"]


# ------------------------------------------------------------------------------------------ fidelity gaps
def test_update_cannot_remove_async_inference_config(sm: Any) -> None:
    async_endpoint(sm)
    make_config(sm, "plain", ("AllTraffic", "m", 1.0, 1))
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="async-ep", EndpointConfigName="plain")
    assert error_of(exc) == (
        "ValidationException", "The AsyncInferenceConfig parameter cannot be removed from this endpoint", 400)


def test_update_of_a_real_time_endpoint_to_serverless_is_refused(sm: Any) -> None:
    make_endpoint(sm, "ep")
    sm.create_endpoint_config(EndpointConfigName="serverless", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "ep-m1",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}])
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="serverless")
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationException", 400)
    assert "serverless" in message
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_describe_scaling_activities(aas: Any) -> None:
    answer = aas.describe_scaling_activities(ServiceNamespace="sagemaker",
                                             ResourceId="endpoint/ep/variant/AllTraffic",
                                             ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    assert answer["ScalingActivities"] == []
