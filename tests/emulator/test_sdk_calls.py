"""The calls the SageMaker Python SDK makes around its high-level helpers, replayed with plain boto3 in the SDK's
order, so the emulator keeps answering them without the SDK in the test venv.

* v3 ``ModelBuilder.build()`` validates the execution role before CreateModel: a paginated
  ``iam:SimulatePrincipalPolicy`` on the role ARN (only ``*``-resource actions), then ``iam:GetRole`` to read its
  trust policy for ``sagemaker.amazonaws.com``.
* v2 ``Transformer.transform(wait=True, logs=True)`` reads ``/aws/sagemaker/TransformJobs``: DescribeLogStreams
  (prefix ``JOB/``, ordered by name, ``limit`` = instance count), then per stream GetLogEvents from a
  (timestamp, skip) position with ``startFromHead`` and the forward token until a page is empty.
* v2 ``AsyncInferenceResponse.get_result(WaiterConfig)`` waits with S3's ``object_exists`` waiter (HeadObject) on
  the output object, and reads the failure object when the model failed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, ROLE, client, error_of, make_config, make_model, wait_until

from sagemaker_emulator.server import EmulatorThread

# A few of the actions the SDK's "serving" role check simulates.
SERVING_ACTIONS = [
    "sagemaker:CreateModel",
    "sagemaker:CreateEndpoint",
    "ecr:GetAuthorizationToken",
    "logs:PutLogEvents",
]


@pytest.fixture
def iam(emulator: EmulatorThread) -> Any:
    return client(emulator, "iam")


def test_model_builder_role_check(iam: Any) -> None:
    """The SDK's sequence: simulate the actions on the role (every page), then read the role's trust policy."""
    pages = iam.get_paginator("simulate_principal_policy").paginate(PolicySourceArn=ROLE, ActionNames=SERVING_ACTIONS)
    results = [r for page in pages for r in page["EvaluationResults"]]
    assert [r["EvalActionName"] for r in results] == SERVING_ACTIONS
    assert {(r["EvalDecision"], r["EvalResourceName"]) for r in results} == {("allowed", "*")}
    role = iam.get_role(RoleName=ROLE.rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    principals = [s["Principal"].get("Service") for s in trust["Statement"] if s["Effect"] == "Allow"]
    assert "sagemaker.amazonaws.com" in principals


def test_simulation_pages_and_resources(iam: Any) -> None:
    resources = ["arn:aws:s3:::a", "arn:aws:s3:::b"]
    first = iam.simulate_principal_policy(
        PolicySourceArn=ROLE, ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=resources, MaxItems=3
    )
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 3
    rest = iam.simulate_principal_policy(
        PolicySourceArn=ROLE, ActionNames=["s3:GetObject", "s3:PutObject"], ResourceArns=resources,
        Marker=first["Marker"],
    )
    assert rest["IsTruncated"] is False and "Marker" not in rest
    results = first["EvaluationResults"] + rest["EvaluationResults"]
    pairs = [(r["EvalActionName"], r["EvalResourceName"]) for r in results]
    assert pairs == [(a, r) for a in ("s3:GetObject", "s3:PutObject") for r in resources]


def test_simulation_principal_must_exist(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:*"])
    assert error_of(exc)[0::2] == ("NoSuchEntity", 404)
    iam.create_user(UserName="somebody")
    found = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/somebody", ActionNames=["s3:*"])
    assert found["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/session", ActionNames=["s3:*"]
        )
    assert error_of(exc)[0::2] == ("InvalidInput", 400)


def test_simulation_input_checked_against_the_model(emulator: EmulatorThread) -> None:
    raw = client(emulator, "iam", raw=True)
    with pytest.raises(ClientError) as exc:
        raw.simulate_principal_policy(PolicySourceArn=ROLE)
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "actionNames" in message
    with pytest.raises(ClientError) as exc:
        raw.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:*"], MaxItems=0)
    assert error_of(exc)[0] == "ValidationError"


def test_a_call_moto_lacks_is_not_implemented_not_an_internal_error(emulator: EmulatorThread) -> None:
    """Before SimulatePrincipalPolicy was answered, the SDK saw a retried 500 InternalFailure; a call nobody
    implements answers 501 at once, as the emulator's own unimplemented operations do."""
    iam = client(emulator, "iam")
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=["{}"], ActionNames=["s3:GetObject"])
    code, message, status = error_of(exc)
    assert (code, status) == ("NotImplemented", 501)
    assert "simulate_custom_policy" in message


def _read_stream(logs: Any, group: str, stream: str, start_time: int, skip: int) -> list[dict[str, Any]]:
    """The SDK's ``sagemaker.logs.log_stream``: forward tokens until an empty page."""
    events: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=start_time,
                                   startFromHead=True, **token)
        if not page["events"]:
            return events[skip:]
        events.extend(page["events"])
        token = {"nextToken": page["nextForwardToken"]}


def test_transform_log_reader_sequence(emulator: EmulatorThread) -> None:
    sm, s3, logs = client(emulator, "sagemaker"), client(emulator, "s3"), client(emulator, "logs")
    s3.create_bucket(Bucket="sdk")
    s3.put_object(Bucket="sdk", Key="in/data.csv", Body=b"1,2\n3,4\n")
    make_model(sm, "m")
    sm.create_transform_job(
        TransformJobName="job", ModelName="m", BatchStrategy="MultiRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://sdk/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://sdk/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    wait_until(lambda: sm.describe_transform_job(TransformJobName="job")["TransformJobStatus"] == "Completed")
    group = "/aws/sagemaker/TransformJobs"
    first = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="job/", orderBy="LogStreamName", limit=1)
    assert len(first["logStreams"]) == 1 and "nextToken" in first  # the data-log stream is on the next page
    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix="job/", orderBy="LogStreamName", limit=50)["logStreams"]]
    assert len(streams) == 2 and streams[1] == streams[0] + "/data-log"
    container = _read_stream(logs, group, streams[0], 0, 0)
    assert any("invocations served" in e["message"] for e in container)
    # The next poll starts at the last event's timestamp and skips what was already shown at that time.
    last = container[-1]["timestamp"]
    shown = sum(1 for e in container if e["timestamp"] == last)
    assert _read_stream(logs, group, streams[0], last, shown) == []
    assert "BatchStrategy=MULTI_RECORD" in _read_stream(logs, group, streams[1], 0, 0)[0]["message"]
    out = s3.get_object(Bucket="sdk", Key="out/data.csv.out")["Body"].read().decode()
    lines = out.splitlines()
    assert len(lines) == 2 and "1,2" in lines[0] and "3,4" in lines[1]  # one answer per record, AssembleWith Line


def test_async_get_result_sequence(emulator: EmulatorThread) -> None:
    sm, s3 = client(emulator, "sagemaker"), client(emulator, "s3")
    rt = client(emulator, "sagemaker-runtime")
    s3.create_bucket(Bucket="sdk")
    make_model(sm, "m")
    make_config(sm, "cfg", ("AllTraffic", "m", 1.0, 1), AsyncInferenceConfig={
        "OutputConfig": {"S3OutputPath": "s3://sdk/async-out", "S3FailurePath": "s3://sdk/async-fail"}})
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    s3.put_object(Bucket="sdk", Key="async-endpoint-inputs/req", Body=b'{"x": 1}')
    answer = rt.invoke_endpoint_async(EndpointName="ep", InputLocation="s3://sdk/async-endpoint-inputs/req",
                                      ContentType="application/json", Accept="application/json")
    key = answer["OutputLocation"].removeprefix("s3://sdk/")
    s3.get_waiter("object_exists").wait(Bucket="sdk", Key=key, WaiterConfig={"Delay": 0.05, "MaxAttempts": 20})
    assert json.loads(s3.get_object(Bucket="sdk", Key=key)["Body"].read())["input"] == {"x": 1}
    failed = rt.invoke_endpoint_async(EndpointName="ep", InputLocation="s3://sdk/async-endpoint-inputs/none")
    s3.get_waiter("object_exists").wait(Bucket="sdk", Key=failed["FailureLocation"].removeprefix("s3://sdk/"),
                                        WaiterConfig={"Delay": 0.05, "MaxAttempts": 20})
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="sdk", Key=failed["OutputLocation"].removeprefix("s3://sdk/"))
    assert error_of(exc)[2] == 404


def test_a_job_that_fails_to_start_logs_no_successful_ping(emulator: EmulatorThread) -> None:
    """The SDK prints the job's container lines above the failure: they must not say the server started."""
    sm, s3, logs = client(emulator, "sagemaker"), client(emulator, "s3"), client(emulator, "logs")
    s3.create_bucket(Bucket="sdk")
    s3.put_object(Bucket="sdk", Key="in/a.csv", Body=b"1")
    make_model(sm, "bad", image=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fail:1")
    sm.create_transform_job(
        TransformJobName="job", ModelName="bad",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://sdk/in/"}}},
        TransformOutput={"S3OutputPath": "s3://sdk/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    wait_until(lambda: sm.describe_transform_job(TransformJobName="job")["TransformJobStatus"] == "Failed")
    group = "/aws/sagemaker/TransformJobs"
    stream = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="job/", limit=1)["logStreams"][0]
    messages = [e["message"] for e in _read_stream(logs, group, stream["logStreamName"], 0, 0)]
    assert messages[0].startswith("Starting the model server for transform job job")
    assert messages[-1] == "Model server failed to start: AlgorithmError: See job logs for more information"
    assert not any("ping" in m or "started" in m for m in messages)
