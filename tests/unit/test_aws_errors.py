"""Classification of botocore errors into what the reconciler does about them, with AWS's real codes and messages."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from sagemaker_operator.aws.errors import AwsFailure, FailureKind, classify
from sagemaker_operator.reconcile.failures import RECHECK_SECONDS, RetryLater, failure_outcome
from sagemaker_operator.status import State

REGION_ARN = "arn:aws:sagemaker:eu-west-1:123456789012"


def client_error(code: str, message: str, status: int = 400, operation: str = "DescribeEndpoint") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message, "Type": "Sender" if status < 500 else "Receiver"},
                     "ResponseMetadata": {"RequestId": "5c0f0d1e-0000-4000-8000-000000000000",
                                          "HTTPStatusCode": status}}
    return ClientError(response, operation)


@pytest.mark.parametrize(("code", "message", "status", "kind"), [
    ("ValidationException", f'Could not find endpoint "{REGION_ARN}:endpoint/recommender".', 400,
     FailureKind.NOT_FOUND),
    ("ValidationException", f'Could not find model "{REGION_ARN}:model/recommender-v1-0a1b2c3d4e".', 400,
     FailureKind.NOT_FOUND),
    ("ValidationException", f'Could not find endpoint configuration "{REGION_ARN}:endpoint-config/r-0a1b2c3d4e".',
     400, FailureKind.NOT_FOUND),
    ("ResourceNotFound", "Amazon SageMaker can't find a resource with ARN", 400, FailureKind.NOT_FOUND),
    ("ValidationException", f'Cannot create already existing model "{REGION_ARN}:model/recommender-v1-0a1b2c3d4e".',
     400, FailureKind.ALREADY_EXISTS),
    ("ValidationException", f'Cannot create already existing endpoint configuration '
                            f'"{REGION_ARN}:endpoint-config/recommender-0a1b2c3d4e".', 400, FailureKind.ALREADY_EXISTS),
    ("ValidationException", f'Cannot create already existing endpoint "{REGION_ARN}:endpoint/recommender".', 400,
     FailureKind.ALREADY_EXISTS),
    ("ValidationException", "Cannot update in-progress endpoint "
                            f'"{REGION_ARN}:endpoint/recommender".', 400, FailureKind.INVALID),
    ("ValidationException", "1 validation error detected: Value 'ml.m5.huge' at "
                            "'productionVariants.1.member.instanceType' failed to satisfy constraint", 400,
     FailureKind.INVALID),
    ("ThrottlingException", "Rate exceeded", 400, FailureKind.THROTTLED),
    ("ThrottlingException", "Rate exceeded", 429, FailureKind.THROTTLED),
    ("InternalFailure", "An internal error occurred.", 500, FailureKind.TRANSIENT),
    ("ServiceUnavailable", "Service is unavailable.", 503, FailureKind.TRANSIENT),
    ("SomethingNew", "An unknown server-side problem", 502, FailureKind.TRANSIENT),
    ("ExpiredTokenException", "The security token included in the request is expired", 400,
     FailureKind.CREDENTIALS),
    ("UnrecognizedClientException", "The security token included in the request is invalid.", 400,
     FailureKind.CREDENTIALS),
    ("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/operator/i-0 is not authorized to "
                              f"perform: sagemaker:CreateEndpoint on resource: {REGION_ARN}:endpoint/recommender "
                              "because no identity-based policy allows the sagemaker:CreateEndpoint action", 400,
     FailureKind.ACCESS_DENIED),
    ("AccessDenied", "User is not authorized to perform: sts:AssumeRole", 403, FailureKind.ACCESS_DENIED),
    ("ResourceLimitExceeded", "The account-level service limit 'ml.g5.xlarge for endpoint usage' is 2 Instances, "
                              "with current utilization of 2 Instances and a request delta of 1 Instances.", 400,
     FailureKind.QUOTA),
])
def test_classify_client_errors(code: str, message: str, status: int, kind: FailureKind) -> None:
    failure = classify(client_error(code, message, status), "DescribeEndpoint")
    assert failure.kind is kind
    assert failure.code == code
    assert failure.message == message
    assert failure.operation == "DescribeEndpoint"
    assert str(failure) == f"DescribeEndpoint: {code}: {message}"


def test_only_throttling_and_transient_failures_are_retryable() -> None:
    assert {kind for kind in FailureKind if kind.retryable} == {FailureKind.THROTTLED, FailureKind.TRANSIENT}


def test_classify_client_error_without_metadata() -> None:
    failure = classify(ClientError({"Error": {"Code": "ValidationException"}}, "CreateModel"), "CreateModel")
    assert (failure.kind, failure.code, failure.message) == (FailureKind.INVALID, "ValidationException", "")
    bare = classify(ClientError({}, "CreateModel"), "CreateModel")
    assert (bare.kind, bare.code) == (FailureKind.INVALID, "Unknown")


def test_classify_botocore_errors() -> None:
    no_credentials = classify(NoCredentialsError(), "CreateModel")
    assert (no_credentials.kind, no_credentials.code) == (FailureKind.CREDENTIALS, "NoCredentialsError")
    retrieval = classify(CredentialRetrievalError(provider="assume-role", error_msg="AccessDenied"), "CreateModel")
    assert retrieval.kind is FailureKind.CREDENTIALS
    connection = classify(EndpointConnectionError(endpoint_url="https://api.sagemaker.eu-west-1.amazonaws.com/"),
                          "DescribeEndpoint")
    assert (connection.kind, connection.code) == (FailureKind.TRANSIENT, "EndpointConnectionError")
    assert "api.sagemaker.eu-west-1.amazonaws.com" in connection.message
    timeout = classify(ReadTimeoutError(endpoint_url="https://api.sagemaker.eu-west-1.amazonaws.com/"), "X")
    assert timeout.kind is FailureKind.TRANSIENT
    region = classify(NoRegionError(), "CreateModel")
    assert (region.kind, region.code) == (FailureKind.INVALID, "NoRegion")


def test_classify_passes_failures_through_and_re_raises_unknown_errors() -> None:
    failure = AwsFailure(FailureKind.QUOTA, "ResourceLimitExceeded", "x", "CreateEndpoint")
    assert classify(failure, "Other") is failure
    with pytest.raises(KeyError):
        classify(KeyError("not an AWS error"), "CreateModel")


# --- how failures end up in status -----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "message", "status", "reason", "recheck"), [
    ("ExpiredTokenException", "The security token included in the request is expired", 400, "AwsCredentials",
     RECHECK_SECONDS),
    ("AccessDeniedException", "not authorized to perform: sagemaker:CreateModel", 400, "AccessDenied",
     RECHECK_SECONDS),
    ("ResourceLimitExceeded", "The account-level service limit is 2 Instances", 400, "QuotaExceeded",
     RECHECK_SECONDS),
    ("ValidationException", "Could not access model data at s3://bucket/model.tar.gz", 400, "AwsRejected", None),
])
def test_failure_outcome_is_degraded_with_aws_words(code: str, message: str, status: int, reason: str,
                                                    recheck: float | None) -> None:
    outcome = failure_outcome(classify(client_error(code, message, status, "CreateModel"), "CreateModel"),
                              "creating AWS model m-0a1b2c3d4e")
    assert outcome.state is State.DEGRADED
    assert outcome.reason == reason
    assert outcome.message == f"creating AWS model m-0a1b2c3d4e: AWS said {code}: {message}"
    assert outcome.requeue_after == recheck
    assert [(e.reason, e.warning) for e in outcome.events] == [("AwsError", True)]


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalFailure", 500)])
def test_retryable_failures_raise_retry_later(code: str, status: int) -> None:
    failure = classify(client_error(code, "x", status), "DescribeEndpoint")
    with pytest.raises(RetryLater) as raised:
        failure_outcome(failure, "reconciling endpoint recommender")
    assert raised.value.failure is failure
