"""The gateway's one retry with fresh credentials: when AWS refuses them, and only then."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from sagemaker_operator.aws.clients import AwsTarget, ClientFactory
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway

ROLE = AwsTarget("eu-west-1", "arn:aws:iam::111122223333:role/deployer")
PLAIN = AwsTarget("eu-west-1")


def error(code: str, operation: str = "DescribeModel", status: int = 400, message: str = "") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message or f"{code} message"},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


class FakeClient:
    """A SageMaker client whose describe_model raises the queued errors, then answers."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0
        self.meta = SimpleNamespace(method_to_api_mapping={"describe_model": "DescribeModel"})

    def describe_model(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ModelName": "m", "ResponseMetadata": {}}


class FakeFactory:
    """Hands out one client per generation; forget() starts a new generation (if the stale client is current)."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.current = FakeClient(errors)
        self.forgotten: list[tuple[AwsTarget, Any]] = []

    def client(self, service: str, target: AwsTarget) -> FakeClient:
        return self.current

    def forget(self, target: AwsTarget, stale: Any = None) -> None:
        self.forgotten.append((target, stale))
        if stale is self.current:
            self.current = FakeClient(self.errors)


def describe(errors: list[Exception], target: AwsTarget) -> tuple[dict[str, Any] | AwsFailure, FakeFactory]:
    factory = FakeFactory(errors)
    gateway = SageMakerGateway(cast(ClientFactory, factory), max_concurrency=1)
    try:
        return asyncio.run(gateway.call(target, "describe_model", ModelName="m")), factory
    except AwsFailure as failure:
        return failure, factory
    finally:
        gateway.close()


@pytest.mark.parametrize("code", ["ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId",
                                  "UnrecognizedClientException"])
def test_refused_credentials_are_resolved_afresh_and_the_call_made_once_more(code: str) -> None:
    for target in (PLAIN, ROLE):
        factory = FakeFactory([error(code)])
        refused = factory.current
        gateway = SageMakerGateway(cast(ClientFactory, factory), max_concurrency=1)
        try:
            assert asyncio.run(gateway.call(target, "describe_model", ModelName="m")) == {"ModelName": "m"}
        finally:
            gateway.close()
        assert factory.forgotten == [(target, refused)], "the client that was refused is the one forgotten"
        assert (refused.calls, factory.current.calls) == (1, 1), "the call is made again with the fresh client"


def test_only_one_retry_then_the_failure_is_reported() -> None:
    answer, factory = describe([error("ExpiredTokenException"), error("ExpiredTokenException")], ROLE)
    assert isinstance(answer, AwsFailure) and answer.kind is FailureKind.CREDENTIALS
    assert len(factory.forgotten) == 1


NO_POLICY = ("User: arn:aws:sts::111122223333:assumed-role/deployer/sagemaker-operator is not authorized to perform: "
             "sagemaker:DescribeModel because no identity-based policy allows the sagemaker:DescribeModel action")
REVOKED = ("User: arn:aws:sts::111122223333:assumed-role/deployer/sagemaker-operator is not authorized to perform: "
           "sagemaker:DescribeModel with an explicit deny in an identity-based policy")


@pytest.mark.parametrize(("code", "target", "message"), [
    ("ValidationException", ROLE, ""), ("ThrottlingException", ROLE, ""), ("AccessDeniedException", PLAIN, REVOKED),
    ("AccessDeniedException", ROLE, NO_POLICY)])
def test_other_failures_are_not_retried_with_new_credentials(code: str, target: AwsTarget, message: str) -> None:
    answer, factory = describe([error(code, message=message)], target)
    assert isinstance(answer, AwsFailure) and answer.code == code
    assert factory.forgotten == []


def test_an_explicit_deny_under_an_assumed_role_gets_one_new_session() -> None:
    # Revoking a role's active sessions makes AWS deny the old session's calls explicitly; a new session may pass.
    answer, factory = describe([error("AccessDeniedException", message=REVOKED)], ROLE)
    assert answer == {"ModelName": "m"} and len(factory.forgotten) == 1


def test_assume_role_failures_keep_sts_code_and_name_the_role() -> None:
    denied, factory = describe([error("AccessDenied", "AssumeRole", 403)], ROLE)
    assert isinstance(denied, AwsFailure)
    assert (denied.kind, denied.code, denied.operation) == (FailureKind.ACCESS_DENIED, "AccessDenied", "AssumeRole")
    assert denied.message.startswith(f"cannot assume spec.assumeRoleArn {ROLE.role_arn}: AccessDenied: ")
    assert factory.forgotten == [], "assuming the role again would be denied again"
    # The operator's own (source) credentials expired: AssumeRole says ExpiredToken; they are read again.
    healed, factory = describe([error("ExpiredToken", "AssumeRole")], ROLE)
    assert healed == {"ModelName": "m"} and len(factory.forgotten) == 1
    # A throttled STS is retried with backoff like any throttled call, never a Degraded credentials problem.
    throttled, _ = describe([error("Throttling", "AssumeRole")], ROLE)
    assert isinstance(throttled, AwsFailure) and throttled.kind is FailureKind.THROTTLED

