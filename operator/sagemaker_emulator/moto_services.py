"""S3, CloudWatch Logs and IAM on the emulator's port, served by moto's backends.

The server routes a request here when the service of its SigV4 credential scope (``Authorization`` header, or
``X-Amz-Credential`` of a presigned URL) is ``s3``, ``logs`` or ``iam``, or when an unsigned request names a bucket in
its host (``BUCKET.localhost``). The request is handed to moto as if it had been sent to AWS's own host name
(``s3.amazonaws.com`` path-style, ``BUCKET.s3.amazonaws.com`` virtual-hosted, ``logs.REGION.amazonaws.com``,
``iam.amazonaws.com``), with the caller's account from the emulator's identity (``x-moto-account-id``), so moto
answers exactly as it answers its own clients: S3's REST-XML with ETags, multipart uploads and ListObjectsV2, Logs'
JSON 1.1, IAM's query protocol.

The emulator's own features (transform jobs, async inference output, data capture, container logs) read and write
the same backends through :class:`MotoServices`, so what they write is what clients list and get.

State: moto keeps its backends per process, keyed by account (and region for Logs). The emulator's accounts map to
moto's accounts one to one; S3 bucket names are global, as on AWS. The admin reset clears these three services'
backends, for every emulator in the process (emulators that share a process share S3, Logs and IAM).

moto is imported on first use, so an emulator that never sees these services does not pay for the import.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from .protocol import AwsError

SERVICES = frozenset({"s3", "logs", "iam"})

_PRESIGNED_CREDENTIAL_RE = re.compile(r"^([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request$")

# The trust policy of a role GetRole answers for without anyone having created it.
SAGEMAKER_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)

MotoResponse = tuple[int, dict[str, str], bytes]


class S3Error(Exception):
    """A bucket or key the emulator needed is missing (message as the caller should see it)."""


def presigned_scope(query: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(access key, region, service) of a presigned URL's ``X-Amz-Credential`` (SigV4), or None.

    An S3 URL presigned with SigV2 (``AWSAccessKeyId`` and ``Signature``, which botocore still writes for S3 in
    us-east-1) has no region: it is S3 in the region the server was started with (empty here).
    """
    credential = query.get("X-Amz-Credential")
    if not credential:
        if query.get("AWSAccessKeyId") and query.get("Signature"):
            return query["AWSAccessKeyId"], "", "s3"
        return None
    match = _PRESIGNED_CREDENTIAL_RE.match(credential)
    if match is None:
        return None
    return match.group(1), match.group(3), match.group(4)


def virtual_host_bucket(host: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 host, or None for path-style.

    botocore puts the bucket in front of the endpoint's host name. Such names resolve without DNS set-up only under
    ``localhost`` (``BUCKET.localhost``, RFC 6761); ``BUCKET.s3.ANYTHING`` (the form S3-compatible services use) is
    recognised too. An IP address or any other host name is path-style.
    """
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    hostname = hostname.strip("[]").lower()
    try:
        ipaddress.ip_address(hostname)
        return None
    except ValueError:
        pass
    if hostname.endswith(".localhost"):
        bucket = hostname[: -len(".localhost")]
        return bucket.removesuffix(".s3") or None
    if ".s3." in hostname:
        return hostname.split(".s3.", 1)[0] or None
    return None


@functools.cache
def _moto() -> Any:
    """moto's backends, imported once on first use."""
    from moto.iam.models import iam_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends

    return {"s3": s3_backends, "logs": logs_backends, "iam": iam_backends}


@functools.cache
def _routes(service: str) -> list[tuple[re.Pattern[str], Callable[..., Any]]]:
    """moto's URL table of a service (AWS host names to response handlers)."""
    backend_dict = _moto()[service]
    backend = backend_dict["123456789012"]["aws" if service in ("s3", "iam") else "us-east-1"]
    return [(re.compile(url), handler) for url, handler in backend.urls.items()]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MotoServices:
    """The emulator's door to moto: wire requests in, and the data operations its features need."""

    # ------------------------------------------------------------------------------------------ wire
    def dispatch(
        self,
        service: str,
        method: str,
        path_and_query: str,
        headers: Mapping[str, str],
        body: bytes,
        account: str,
        region: str,
        bucket_in_host: str | None = None,
    ) -> MotoResponse:
        """Answer one request with moto, as AWS's own host name would."""
        from moto.core.request import Request
        from werkzeug.exceptions import HTTPException

        if service == "s3":
            host = f"{bucket_in_host}.s3.amazonaws.com" if bucket_in_host else "s3.amazonaws.com"
        elif service == "logs":
            host = f"logs.{region}.amazonaws.com"
        else:
            host = "iam.amazonaws.com"
        if service == "iam" and method == "POST":
            self._ensure_role_for_get_role(body, account)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "transfer-encoding")}
        forwarded["Host"] = host
        forwarded["x-moto-account-id"] = account
        url = f"https://{host}{path_and_query}"
        clean = url.split("?", 1)[0]
        for pattern, handler in _routes(service):
            if pattern.match(clean):
                request = Request.from_primitives(method, url, forwarded, body)
                try:
                    status, out_headers, out_body = handler(request, request.raw_url, request.headers)
                except NotImplementedError as exc:
                    # As the emulator answers every operation it lacks: 501, which clients do not retry.
                    message = f"The emulator (moto) does not implement this call: {exc}"
                    raise AwsError("NotImplemented", message, 501) from None
                except HTTPException as exc:
                    status, out_headers, out_body = exc.code or 500, dict(exc.get_headers()), exc.get_body()
                data = out_body if isinstance(out_body, bytes) else _text(out_body or "").encode()
                return int(status), {k: _text(v) for k, v in dict(out_headers).items()}, data
        return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NotFound</Code></Error>"

    def _ensure_role_for_get_role(self, body: bytes, account: str) -> None:
        """Every IAM role exists for the emulator (AssumeRole accepts any): GetRole on a role nobody created creates
        it first, with SageMaker's trust policy, so an SDK's execution-role check passes."""
        form = parse_qs(body.decode(errors="replace"))
        if form.get("Action") != ["GetRole"] or not form.get("RoleName"):
            return
        self.ensure_role(account, form["RoleName"][0])

    def ensure_role(self, account: str, role_name: str) -> None:
        """Create ``role_name`` (SageMaker's trust policy) in ``account`` unless it exists."""
        iam = _moto()["iam"][account]["aws"]
        try:
            iam.get_role(role_name)
        except Exception:
            iam.create_role(role_name, SAGEMAKER_TRUST_POLICY, "/", None, "", [], None)

    def iam_entity_exists(self, account: str, kind: str, name: str) -> bool:
        """Whether IAM user or group ``name`` exists in ``account``."""
        from moto.iam.exceptions import IAMException

        iam = _moto()["iam"][account]["aws"]
        try:
            iam.get_user(name) if kind == "user" else iam.get_group(name)
        except IAMException:
            return False
        return True

    def reset(self) -> None:
        """Forget every bucket, log group and IAM entity (in this process)."""
        if not _moto.cache_info().currsize:
            return
        for backend_dict in _moto().values():
            for account_backends in list(backend_dict.values()):
                account_backends.reset()
            backend_dict.clear()
            if hasattr(backend_dict, "bucket_accounts"):
                backend_dict.bucket_accounts.clear()
        _routes.cache_clear()

    # ------------------------------------------------------------------------------------------ S3 data
    def _s3(self, account: str) -> Any:
        return _moto()["s3"][account]["aws"]

    def list_objects(self, account: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object under ``prefix``, sorted by key; S3Error if the bucket is missing."""
        s3 = self._s3(account)
        try:
            found = s3.get_bucket(bucket)
        except Exception:
            raise S3Error(f"The specified bucket does not exist: {bucket}") from None
        return sorted((k.name, k.size) for k in found.keys.values() if k.name.startswith(prefix))

    def get_object(self, account: str, bucket: str, key: str) -> bytes:
        """An object's bytes; S3Error if the bucket or key is missing."""
        s3 = self._s3(account)
        try:
            found = s3.get_object(bucket, key)
        except Exception:
            found = None
        if found is None:
            raise S3Error(f"The specified key does not exist: s3://{bucket}/{key}")
        return bytes(found.value)

    def put_object(self, account: str, region: str, bucket: str, key: str, data: bytes) -> None:
        """Write an object, creating the bucket (in ``region``) if it is missing."""
        s3 = self._s3(account)
        try:
            s3.get_bucket(bucket)
        except Exception:
            s3.create_bucket(bucket, region)
        s3.put_object(bucket, key, data)

    # ------------------------------------------------------------------------------------------ Logs
    def write_logs(self, account: str, region: str, group: str, stream: str, messages: list[str]) -> None:
        """Append ``messages`` (one event each, now) to ``group``/``stream``, creating both if needed."""
        if not messages:
            return
        logs = _moto()["logs"][account][region]
        if group not in logs.groups:
            logs.create_log_group(group, {})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        t = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": t, "message": m} for m in messages])


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of ``s3://bucket/key``."""
    rest = uri[len("s3://") :] if uri.startswith("s3://") else uri
    bucket, _, key = rest.partition("/")
    return bucket, key
