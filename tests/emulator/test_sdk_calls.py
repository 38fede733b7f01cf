"""The calls the SageMaker Python SDK makes around its high-level helpers, replayed with plain boto3 in the SDK's
order, so the emulator keeps answering them without the SDK in the test venv.

* v3 ``ModelBuilder.build()`` validates the execution role before CreateModel: a paginated
  ``iam:SimulatePrincipalPolicy`` on the role ARN (only ``*``-resource actions), then ``iam:GetRole`` to read its
  trust policy for ``sagemaker.amazonaws.com``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, ROLE, client, error_of

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
