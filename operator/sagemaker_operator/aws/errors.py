"""Classify AWS failures into what the reconciler should do about them.

SageMaker reports most of its errors as ``ValidationException`` and tells "not found" and "already exists" apart
only by message, so those are recognised by message here and nowhere else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)


class FailureKind(enum.Enum):
    """What a failed AWS call means for reconciliation."""

    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    # The request is wrong, or the resource is in a state that refuses it: retrying the same request will not help.
    INVALID = "Invalid"
    QUOTA = "QuotaExceeded"
    THROTTLED = "Throttled"
    TRANSIENT = "Transient"
    CREDENTIALS = "CredentialsError"
    ACCESS_DENIED = "AccessDenied"

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later without any change by the user."""
        return self in (FailureKind.THROTTLED, FailureKind.TRANSIENT)


_THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "SlowDown", "RequestThrottled", "RequestThrottledException",
})
_TRANSIENT_CODES = frozenset({
    "InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
})
# Credentials AWS no longer accepts although the client still holds them (an expired session, a rotated or
# deactivated key): worth one fresh resolution.
REFRESH_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                           "UnrecognizedClientException"})
_CREDENTIAL_CODES = REFRESH_CODES | frozenset({
    "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken",
    "RegionDisabledException",
})
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_QUOTA_CODES = frozenset({"ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceededException"})
_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException", "ObjectNotFoundException"})


@dataclass(frozen=True)
class AwsFailure(Exception):
    """A classified AWS error: what kind it is, AWS's own code and message, and the operation that failed."""

    kind: FailureKind
    code: str
    message: str
    operation: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.code}: {self.message}"


def classify(error: Exception, operation: str) -> AwsFailure:
    """Turn a botocore exception into an :class:`AwsFailure`."""
    if isinstance(error, AwsFailure):
        return error
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return AwsFailure(_kind_of(code, message, status), code, message, operation)
    if isinstance(error, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return AwsFailure(FailureKind.CREDENTIALS, type(error).__name__, str(error), operation)
    if isinstance(error, NoRegionError):
        return AwsFailure(FailureKind.INVALID, "NoRegion",
                          "no AWS region: set spec.region or the operator's --region", operation)
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return AwsFailure(FailureKind.TRANSIENT, type(error).__name__, str(error), operation)
    if isinstance(error, BotoCoreError):
        return AwsFailure(FailureKind.TRANSIENT, type(error).__name__, str(error), operation)
    raise error


def _kind_of(code: str, message: str, status: int) -> FailureKind:
    if code in _THROTTLING_CODES:
        return FailureKind.THROTTLED
    if code in _TRANSIENT_CODES or status >= 500:
        return FailureKind.TRANSIENT
    if code in _CREDENTIAL_CODES:
        return FailureKind.CREDENTIALS
    if code in _ACCESS_DENIED_CODES:
        return FailureKind.ACCESS_DENIED
    if code in _QUOTA_CODES:
        return FailureKind.QUOTA
    if code in _NOT_FOUND_CODES or message.startswith("Could not find"):
        return FailureKind.NOT_FOUND
    if code == "ResourceInUse" or message.startswith("Cannot create already existing"):
        return FailureKind.ALREADY_EXISTS
    return FailureKind.INVALID
