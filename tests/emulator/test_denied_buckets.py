"""A bucket the caller may not read: S3 answers AccessDenied (403), for a HEAD without a body, until allowed."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator.server import EmulatorThread


def test_a_denied_bucket_answers_access_denied_until_allowed(emulator: EmulatorThread) -> None:
    s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")
    s3.create_bucket(Bucket="private")
    s3.put_object(Bucket="private", Key="model.tar.gz", Body=b"weights")
    assert emulator.admin.deny_bucket("private")["denied_buckets"] == ["private"]
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket="private", Key="model.tar.gz")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as listing:
        s3.list_objects_v2(Bucket="private")
    assert listing.value.response["Error"]["Code"] == "AccessDenied"
    emulator.admin.allow_bucket("private")
    assert s3.head_object(Bucket="private", Key="model.tar.gz")["ContentLength"] == 7
