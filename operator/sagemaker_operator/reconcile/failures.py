"""How AWS failures end up in an object's status: one mapping, used by every kind."""

from __future__ import annotations

from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.status import EventRecord, Outcome

# Problems that can be fixed outside the spec (an IAM policy, a quota increase): look again now and then.
RECHECK_SECONDS = 300.0


class RetryLater(Exception):
    """A transient failure: the controller retries the object with backoff, without touching its status."""

    def __init__(self, failure: AwsFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def failure_outcome(failure: AwsFailure, doing: str) -> Outcome:
    """The Degraded outcome for a failed AWS call made while ``doing`` (e.g. "creating AWS model m-1a2b").

    Throttling and 5xx are not a status matter: they raise :class:`RetryLater` for the controller's backoff.
    """
    if failure.kind.retryable:
        raise RetryLater(failure)
    message = f"{doing}: AWS said {failure.code}: {failure.message}"
    event = EventRecord("AwsError", message, warning=True)
    if failure.kind in (FailureKind.CREDENTIALS, FailureKind.ACCESS_DENIED):
        return Outcome.degraded("AwsCredentials" if failure.kind is FailureKind.CREDENTIALS else "AccessDenied",
                                message, events=[event], requeue_after=RECHECK_SECONDS)
    if failure.kind is FailureKind.QUOTA:
        return Outcome.degraded("QuotaExceeded", message, events=[event], requeue_after=RECHECK_SECONDS)
    return Outcome.degraded("AwsRejected", message, events=[event])
