"""S3, CloudWatch Logs and IAM on the emulator's one endpoint URL (served by moto), driven with plain boto3 clients
that know nothing but ``endpoint_url``."""

from __future__ import annotations

import hashlib
import socket
import time
import urllib.request
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, client, error_of

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.server import EmulatorThread


@pytest.fixture
def s3(emulator: EmulatorThread) -> Any:
    return client(emulator, "s3")


@pytest.fixture
def logs(emulator: EmulatorThread) -> Any:
    return client(emulator, "logs")


def test_put_head_get_list_with_etags(s3: Any) -> None:
    s3.create_bucket(Bucket="data")
    body = b"1,2\n3,4\n"
    put = s3.put_object(Bucket="data", Key="in/a.csv", Body=body)
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    s3.put_object(Bucket="data", Key="in/b.csv", Body=b"5,6\n")
    s3.put_object(Bucket="data", Key="other/c.csv", Body=b"x")
    head = s3.head_object(Bucket="data", Key="in/a.csv")
    assert (head["ContentLength"], head["ETag"]) == (8, put["ETag"])
    assert s3.get_object(Bucket="data", Key="in/a.csv")["Body"].read() == b"1,2\n3,4\n"
    listed = s3.list_objects_v2(Bucket="data", Prefix="in/")
    assert [o["Key"] for o in listed["Contents"]] == ["in/a.csv", "in/b.csv"]
    page = s3.list_objects_v2(Bucket="data", MaxKeys=1)
    assert page["IsTruncated"] and page["KeyCount"] == 1
    rest = s3.list_objects_v2(Bucket="data", ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["in/b.csv", "other/c.csv"]


def test_missing_key_and_bucket_answer_s3_errors(s3: Any) -> None:
    s3.create_bucket(Bucket="data")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="data", Key="nope")
    assert error_of(exc)[0::2] == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket="nobucket")
    assert error_of(exc)[0::2] == ("NoSuchBucket", 404)


def test_multipart_upload(s3: Any) -> None:
    s3.create_bucket(Bucket="data")
    upload = s3.create_multipart_upload(Bucket="data", Key="big.bin")["UploadId"]
    first, second = b"a" * (5 * 1024 * 1024), b"b" * 100
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket="data", Key="big.bin", UploadId=upload, PartNumber=n,
                                                  Body=body)["ETag"]}
        for n, body in ((1, first), (2, second))
    ]
    done = s3.complete_multipart_upload(Bucket="data", Key="big.bin", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    digests = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(second).digest()).hexdigest()
    assert done["ETag"] == f'"{digests}-2"'
    assert s3.head_object(Bucket="data", Key="big.bin")["ContentLength"] == len(first) + len(second)


def test_transfer_manager_upload_and_download(s3: Any, tmp_path: Any) -> None:
    source = tmp_path / "model.tar.gz"
    source.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: multipart with the default 8 MB threshold
    s3.create_bucket(Bucket="data")
    s3.upload_file(str(source), "data", "models/model.tar.gz")
    target = tmp_path / "back"
    s3.download_file("data", "models/model.tar.gz", str(target))
    assert target.read_bytes() == source.read_bytes()


def test_presigned_get(s3: Any) -> None:
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"signed")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "k"})
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"signed"


def test_virtual_hosted_style(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore puts the bucket in front of the endpoint's host name; under ``localhost`` that name is loopback."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    url = emulator.url.replace("127.0.0.1", "localhost")
    virtual = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAEMULATORTEST",
        aws_secret_access_key="secret", config=botocore.config.Config(s3={"addressing_style": "virtual"}),
    )
    virtual.create_bucket(Bucket="vhost")
    virtual.put_object(Bucket="vhost", Key="dir/k.txt", Body=b"v")
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket="vhost")["Contents"]] == ["dir/k.txt"]
    path_style = client(emulator, "s3")
    assert path_style.get_object(Bucket="vhost", Key="dir/k.txt")["Body"].read() == b"v"


def test_buckets_belong_to_the_callers_account(emulator: EmulatorThread) -> None:
    sts = client(emulator, "sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/other", RoleSessionName="test")["Credentials"]
    other = client(emulator, "s3", aws_access_key_id=creds["AccessKeyId"],
                   aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    other.create_bucket(Bucket="theirs")
    mine = client(emulator, "s3")
    assert [b["Name"] for b in other.list_buckets()["Buckets"]] == ["theirs"]
    assert mine.list_buckets()["Buckets"] == []


def test_admin_reset_forgets_buckets_and_logs(s3: Any, logs: Any, admin: AdminClient) -> None:
    s3.create_bucket(Bucket="data")
    logs.create_log_group(logGroupName="g")
    admin.reset()
    assert s3.list_buckets()["Buckets"] == []
    assert logs.describe_log_groups()["logGroups"] == []


def test_fault_injection_reaches_s3(s3: Any, admin: AdminClient) -> None:
    admin.set_fault("S3.PUT", throttle_rate=1.0, count=1)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="data")
    assert error_of(exc)[0::2] == ("SlowDown", 503)
    s3.create_bucket(Bucket="data")


def test_logs_round_trip(logs: Any) -> None:
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="one")
    t = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app", logStreamName="one",
                        logEvents=[{"timestamp": t, "message": "hello"}, {"timestamp": t + 1, "message": "world"}])
    events = logs.get_log_events(logGroupName="/app", logStreamName="one", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["hello", "world"]
    found = logs.filter_log_events(logGroupName="/app", filterPattern="world")["events"]
    assert [e["message"] for e in found] == ["world"]
    streams = logs.describe_log_streams(logGroupName="/app")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["one"]
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="/app")
    assert error_of(exc)[0] == "ResourceAlreadyExistsException"


def test_iam_get_role_answers_every_execution_role(emulator: EmulatorThread) -> None:
    iam = client(emulator, "iam")
    role = iam.get_role(RoleName="SageMakerExecution")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    created = iam.create_role(RoleName="made", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    assert iam.get_role(RoleName="made")["Role"]["RoleId"] == created["Role"]["RoleId"]
