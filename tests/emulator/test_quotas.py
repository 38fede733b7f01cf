"""Service quotas: creating past a limit set through the admin API fails as AWS's quotas do."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator.admin import AdminClient

ROLE = "arn:aws:iam::123456789012:role/r"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"


def _model(sm: Any, name: str) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})


def test_a_quota_refuses_the_next_create_with_resource_limit_exceeded(sm: Any, admin: AdminClient) -> None:
    _model(sm, "one")
    assert admin.set_quota("model", 1) == [{"kind": "model", "region": "*", "limit": 1}]
    with pytest.raises(ClientError) as refused:
        _model(sm, "two")
    error = refused.value.response["Error"]
    assert error["Code"] == "ResourceLimitExceeded"
    assert "'Number of models' is 1 models, with current utilization of 1 models" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    admin.set_quota("model", None)
    _model(sm, "two")


def test_a_quota_can_apply_to_one_region_only(sm: Any, admin: AdminClient) -> None:
    admin.set_quota("model", 0, region="us-west-2")
    _model(sm, "here")  # the client's region is us-east-1
    assert admin.counters()["errors"].get("ResourceLimitExceeded", 0) == 0
