"""Every SageMaker call the operator makes, as async methods.

boto3 is synchronous; calls run in a bounded thread pool so that slow AWS answers never block the event loop that
also serves the Kubernetes watches. Each call is counted (by operation and outcome) and failures come out as
:class:`~sagemaker_operator.aws.errors.AwsFailure`, never as raw botocore exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError, CredentialRetrievalError

from sagemaker_operator.aws.clients import AwsTarget, ClientFactory
from sagemaker_operator.aws.errors import REFRESH_CODES, AwsFailure, FailureKind, classify
from sagemaker_operator.metrics import AWS_CALL_SECONDS, AWS_CALLS

logger = logging.getLogger(__name__)


class SageMakerGateway:
    """The operator's AWS layer: one method per SageMaker (and Application Auto Scaling) operation it uses.

    ``fence``, under leader election, raises unless this process holds the lease. It is checked before each call
    and, through botocore's ``before-send`` event, right before each HTTP request goes out (botocore's own retries
    included), so a process that lost the lease sends nothing, whatever its workers were doing at that moment.
    """

    def __init__(self, clients: ClientFactory | None = None, *, max_concurrency: int = 32,
                 fence: Callable[[], None] | None = None) -> None:
        self._clients = clients or ClientFactory()
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="aws")
        self._fence = fence
        self._fenced: weakref.WeakSet[Any] = weakref.WeakSet()  # clients the fence is registered on

    def _client(self, service: str, target: AwsTarget) -> Any:
        client = self._clients.client(service, target)
        if self._fence is not None and client not in self._fenced:
            # Once per client: registering inspects the handler's signature each time, which cost as much as a
            # tenth of a call. An exception raised by the fence ends the call unsent.
            client.meta.events.register("before-send", self._before_send, unique_id="sagemaker-operator-fence")
            self._fenced.add(client)
        return client

    def _before_send(self, **_: Any) -> None:
        assert self._fence is not None
        self._fence()

    def close(self) -> None:
        """Stop the worker threads (waits for calls under way)."""
        self._executor.shutdown(wait=True)

    async def call(self, target: AwsTarget, operation: str, service: str = "sagemaker", **params: Any
                   ) -> dict[str, Any]:
        """Call ``operation`` (the boto3 snake_case method name) with ``params``; raise AwsFailure on error.

        Credentials AWS refuses as expired or invalid are resolved afresh (a new AssumeRole, or the default chain
        read again) and the call is made once more, so an expired session or a rotated credentials file heals
        without a Degraded object. With an assumed role, an explicit deny gets the same one retry: revoking a role's
        active sessions makes AWS deny the old session's calls explicitly, and a new session may be allowed.
        """
        if self._fence is not None:
            self._fence()
        client = self._client(service, target)
        try:
            return await self._call_once(client, target, operation, service, params)
        except AwsFailure as failure:
            if not _refresh_may_help(failure, target):
                raise
            logger.info("AWS refused the credentials of %s (%s; region %s, role %s): resolving them afresh",
                        failure.operation, failure.code, target.region, target.role_arn or "default")
            self._clients.forget(target, stale=client)
            return await self._call_once(self._client(service, target), target, operation, service, params)

    async def _call_once(self, client: Any, target: AwsTarget, operation: str, service: str, params: dict[str, Any]
                         ) -> dict[str, Any]:
        method = getattr(client, operation)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            response: dict[str, Any] = await loop.run_in_executor(self._executor, lambda: method(**params))
        except Exception as error:  # classified below; anything unknown is re-raised by classify()
            failure = _assume_role_failure(error, target) or classify(error, _api_name(client, operation))
            AWS_CALLS.labels(service, failure.operation, failure.code).inc()
            raise failure from error
        finally:
            AWS_CALL_SECONDS.labels(service, operation).observe(time.monotonic() - started)
        AWS_CALLS.labels(service, _api_name(client, operation), "ok").inc()
        response.pop("ResponseMetadata", None)
        return response

    async def caller_account(self, target: AwsTarget) -> str:
        """The account of the credentials used for ``target`` (STS GetCallerIdentity; needs no IAM permission)."""
        identity = await self.call(target, "get_caller_identity", service="sts")
        return str(identity["Account"])

    def service_url(self, target: AwsTarget, service: str) -> str:
        """The base URL the clients of ``service`` use in the target's region (AWS_ENDPOINT_URL honoured)."""
        return str(self._clients.client(service, target).meta.endpoint_url)

    async def describe(self, target: AwsTarget, operation: str, **params: Any) -> dict[str, Any] | None:
        """A Describe* call that answers None for a resource that does not exist."""
        try:
            return await self.call(target, operation, **params)
        except AwsFailure as failure:
            if failure.kind is FailureKind.NOT_FOUND:
                return None
            raise

    async def delete(self, target: AwsTarget, operation: str, **params: Any) -> bool:
        """A Delete* call; False when the resource was already gone (which counts as success)."""
        try:
            await self.call(target, operation, **params)
        except AwsFailure as failure:
            if failure.kind is FailureKind.NOT_FOUND:
                return False
            raise
        return True

    async def pages(self, target: AwsTarget, operation: str, result_key: str, *, service: str = "sagemaker",
                    token: str = "NextToken", **params: Any) -> list[dict[str, Any]]:
        """Every item of a List/Get call, page by page (each page one call, counted and fenced like any other).

        ``token`` names the pagination member, the same in the request and the answer (NextToken for SageMaker,
        PaginationToken for the Tagging API, which ends with an empty token rather than none).
        """
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            page = await self.call(target, operation, service, **params, **({token: next_token} if next_token else {}))
            items.extend(page.get(result_key) or [])
            next_token = page.get(token) or None
            if not next_token:
                return items

    async def list_tags(self, target: AwsTarget, arn: str) -> dict[str, str]:
        """All tags of a SageMaker resource, as a dict."""
        tags: dict[str, str] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
            if token:
                params["NextToken"] = token
            page = await self.call(target, "list_tags", **params)
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
            token = page.get("NextToken")
            if not token:
                return tags


def _refresh_may_help(failure: AwsFailure, target: AwsTarget) -> bool:
    """Whether fresh credentials could turn ``failure`` into a success."""
    if failure.code in REFRESH_CODES:
        return True
    # Revoking a role's sessions denies them explicitly; a missing permission ("no identity-based policy allows")
    # is not helped by a new session, nor is a denied AssumeRole by assuming again.
    return (target.role_arn is not None and failure.kind is FailureKind.ACCESS_DENIED
            and failure.operation != "AssumeRole" and "explicit deny" in failure.message)


def _assume_role_failure(error: Exception, target: AwsTarget) -> AwsFailure | None:
    """A failed AssumeRole behind a call (botocore assumes lazily, inside the call): a credentials problem of the
    object's spec.assumeRoleArn, whatever code STS gave, so the status says which role could not be assumed.
    STS's own code is kept (ExpiredToken: the operator's source credentials expired)."""
    if target.role_arn is None:
        return None
    code = "AssumeRoleFailed"
    if isinstance(error, ClientError) and error.operation_name == "AssumeRole":
        details = error.response.get("Error", {})
        code = str(details.get("Code") or code)
        message = f"{code}: {details.get('Message', '')}"
    elif isinstance(error, CredentialRetrievalError):
        message = str(error)
    else:
        return None
    kind = FailureKind.ACCESS_DENIED if "AccessDenied" in code else FailureKind.CREDENTIALS
    if isinstance(error, ClientError):
        sts_kind = classify(error, "AssumeRole").kind
        if sts_kind.retryable:
            kind = sts_kind  # a throttled or failing STS: retried, not Degraded
    return AwsFailure(kind, code, f"cannot assume spec.assumeRoleArn {target.role_arn}: {message}", "AssumeRole")


def _api_name(client: Any, operation: str) -> str:
    """The AWS operation name (``DescribeEndpoint``) for a boto3 method name (``describe_endpoint``)."""
    mapping: dict[str, str] = getattr(client, "meta").method_to_api_mapping  # noqa: B009 - boto3 attribute
    return mapping.get(operation, operation)
