"""Wire-protocol layer: request identity, AWS error shapes and response serialisation.

Nothing in here knows about endpoints or models. It turns HTTP requests into a
:class:`RequestContext` plus parameters, and turns results or :class:`AwsError` into the bytes
each botocore protocol expects:

* JSON 1.1 (SageMaker, Application Auto Scaling): body ``{"__type": CODE, "message": MSG}``.
* REST-JSON (SageMaker Runtime): ``x-amzn-ErrorType`` header plus ``{"message": MSG}``.
* Query (STS, IAM): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>...`` XML.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from botocore.model import ListShape, MapShape, Shape, StructureShape

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class AwsError(Exception):
    """An error answered to the client with AWS's shape for the service's protocol.

    ``status`` is the HTTP status AWS uses for that code (400 for client faults such as
    ValidationException and ThrottlingException, 5xx for server faults).
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    """The SageMaker/Application Auto Scaling ``ValidationException`` (HTTP 400)."""
    return AwsError("ValidationException", message)


@dataclass(frozen=True)
class SigV4Scope:
    """The credential scope of a SigV4 ``Authorization`` header (no signature check is made)."""

    access_key: str
    region: str
    service: str


def parse_authorization(header: str | None) -> SigV4Scope | None:
    """Extract access key, region and service from a SigV4 ``Authorization`` header."""
    if not header:
        return None
    match = _CREDENTIAL_RE.search(header)
    if match is None:
        return None
    return SigV4Scope(access_key=match.group(1), region=match.group(3), service=match.group(4))


@dataclass
class RequestContext:
    """Who is calling, where, and what: filled by the server before an operation handler runs.

    ``caller`` is the role ARN when the access key was issued by the emulator's AssumeRole,
    else ``"default"``; ``account`` follows the assumed role so cross-account calls land in
    the role's account, as they do on AWS.
    """

    service: str
    operation: str
    region: str
    account: str
    caller: str = "default"
    access_key: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _base_headers(ctx: RequestContext | None) -> dict[str, str]:
    request_id = ctx.request_id if ctx else str(uuid.uuid4())
    return {"x-amzn-RequestId": request_id}


def json_response(ctx: RequestContext, payload: dict[str, Any]) -> web.Response:
    """A JSON 1.1 success response."""
    return web.Response(
        body=json.dumps(payload, separators=(",", ":")).encode(),
        status=200,
        headers={**_base_headers(ctx), "Content-Type": JSON_CONTENT_TYPE},
    )


def json_error(ctx: RequestContext | None, error: AwsError) -> web.Response:
    """A JSON 1.1 error (``__type`` + ``message``), which botocore maps to ``ClientError`` codes."""
    body = {"__type": error.code, "message": error.message}
    return web.Response(
        body=json.dumps(body).encode(),
        status=error.status,
        headers={**_base_headers(ctx), "Content-Type": JSON_CONTENT_TYPE, "x-amzn-ErrorType": error.code},
    )


def rest_json_error(ctx: RequestContext | None, error: AwsError) -> web.Response:
    """A REST-JSON error as SageMaker Runtime sends it: the code in ``x-amzn-ErrorType``."""
    return web.Response(
        body=json.dumps({"message": error.message}).encode(),
        status=error.status,
        headers={**_base_headers(ctx), "Content-Type": "application/json", "x-amzn-ErrorType": error.code},
    )


def s3_error(ctx: RequestContext | None, error: AwsError) -> web.Response:
    """An S3 REST-XML error; S3 names throttling ``SlowDown`` (503) and expiry ``ExpiredToken``."""
    code, status = error.code, error.status
    if code == "ThrottlingException":
        code, status = "SlowDown", 503
    elif code == "ExpiredTokenException":
        code = "ExpiredToken"
    request_id = ctx.request_id if ctx else str(uuid.uuid4())
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
        f"<Message>{escape(error.message)}</Message><RequestId>{request_id}</RequestId></Error>"
    )
    return web.Response(
        body=body.encode(), status=status, headers={**_base_headers(ctx), "Content-Type": "application/xml"}
    )


STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def xml_elements(value: dict[str, Any]) -> str:
    """Serialise a nested dict into query-protocol XML members (no attributes): lists as ``<member>`` items,
    booleans as ``true``/``false``."""
    parts = []
    for key, item in value.items():
        if item is None:
            continue
        parts.append(f"<{key}>{_xml_value(item)}</{key}>")
    return "".join(parts)


def _xml_value(item: Any) -> str:
    if isinstance(item, dict):
        return xml_elements(item)
    if isinstance(item, list):
        return "".join(f"<member>{_xml_value(x)}</member>" for x in item)
    if isinstance(item, bool):
        return "true" if item else "false"
    return escape(str(item))


def query_params(shape: Shape | None, form: dict[str, str], prefix: str = "") -> dict[str, Any]:
    """The parameters of a query-protocol request (``Name``, ``List.member.N``, ``Struct.Field``,
    ``Map.entry.N.key``/``.value``) as botocore's input shape names them; keys the shape does not name are
    ignored. A value that is not of its member's type raises the query protocol's ``ValidationError``."""
    params: dict[str, Any] = {}
    for name, member in shape.members.items() if isinstance(shape, StructureShape) else []:
        key = prefix + member.serialization.get("name", name)
        value = _query_value(member, form, key)
        if value is not None:
            params[name] = value
    return params


def _query_value(shape: Shape, form: dict[str, str], key: str) -> Any:
    if isinstance(shape, StructureShape):
        if not any(k.startswith(key + ".") for k in form):
            return None
        return query_params(shape, form, key + ".")
    if isinstance(shape, ListShape):
        items, n = [], 1
        while (item := _query_value(shape.member, form, f"{key}.member.{n}")) is not None:
            items.append(item)
            n += 1
        return items if items or f"{key}" in form else None
    if isinstance(shape, MapShape):
        entries, n = {}, 1
        while (k := form.get(f"{key}.entry.{n}.key")) is not None:
            entries[k] = _query_value(shape.value, form, f"{key}.entry.{n}.value")
            n += 1
        return entries or None
    if key not in form:
        return None
    raw = form[key]
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise AwsError("ValidationError", f"Invalid value {raw!r} for {key}: not an integer") from None
    if shape.type_name == "boolean":
        if raw.lower() not in ("true", "false"):
            raise AwsError("ValidationError", f"Invalid value {raw!r} for {key}: not a boolean")
        return raw.lower() == "true"
    return raw


def query_response(ctx: RequestContext, result: dict[str, Any], namespace: str = STS_NS) -> web.Response:
    """A query-protocol (STS, IAM) success response: ``<OpResponse><OpResult>...``."""
    op = ctx.operation
    body = (
        f'<{op}Response xmlns="{namespace}"><{op}Result>{xml_elements(result)}</{op}Result>'
        f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata></{op}Response>"
    )
    return web.Response(body=body.encode(), status=200, headers={**_base_headers(ctx), "Content-Type": "text/xml"})


def query_error(ctx: RequestContext | None, error: AwsError) -> web.Response:
    """A query-protocol error; STS names throttling ``Throttling``, as AWS does."""
    code = "Throttling" if error.code == "ThrottlingException" else error.code
    fault = "Sender" if error.status < 500 else "Receiver"
    request_id = ctx.request_id if ctx else str(uuid.uuid4())
    body = (
        f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>{fault}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return web.Response(
        body=body.encode(), status=error.status, headers={**_base_headers(ctx), "Content-Type": "text/xml"}
    )
