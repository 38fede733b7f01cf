"""What endpoints write as they serve: container log lines, data capture files and async inference results.

* **Container logs** go to ``/aws/sagemaker/Endpoints/ENDPOINT`` (stream ``VARIANT/INSTANCE-ID``) and, for inference
  components, ``/aws/sagemaker/InferenceComponents/COMPONENT`` (stream ``COMPONENT/INSTANCE-ID``): start-up and
  ping lines when a fleet is deployed, the FailureReason when it fails, a line per invocation.
* **Data capture** (DataCaptureConfig with EnableCapture): each sampled invocation is one JSON Lines object at
  ``DESTINATION/ENDPOINT/VARIANT/yyyy/mm/dd/hh/mm-ss-mmm-UUID.jsonl``, in AWS's record format (``captureData`` with
  ``endpointInput``/``endpointOutput``, ``eventMetadata``, ``eventVersion``). Data is written as text (encoding
  ``JSON`` or ``CSV``) when its content type is listed in CaptureContentTypeHeader, else base64 (``BASE64``).
* **Async inference** reads the request from ``InputLocation``, answers it with InvokeEndpoint's logic and writes
  ``S3OutputPath/ID.out``; a request whose input object cannot be read writes ``S3FailurePath/ID-error.out``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from typing import Any

from .moto_services import MotoServices, split_s3_uri

log = logging.getLogger(__name__)


def instance_id(*parts: str) -> str:
    """A stable EC2-style instance id for a resource's (emulated) instance."""
    return "i-" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:17]


def endpoint_log_group(endpoint: str) -> str:
    """The CloudWatch log group of an endpoint's containers."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def component_log_group(component: str) -> str:
    """The CloudWatch log group of an inference component's containers."""
    return f"/aws/sagemaker/InferenceComponents/{component}"


class DataFlows:
    """Writes logs, capture files and async results through moto; never fails the call that caused them."""

    def __init__(self, moto: MotoServices) -> None:
        self.moto = moto

    def logs(self, account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
        """Append container log lines (errors are logged, not raised)."""
        try:
            self.moto.write_logs(account, region, group, stream, lines)
        except Exception:
            log.exception("could not write logs to %s", group)

    def capture(
        self,
        account: str,
        region: str,
        config: dict[str, Any],
        endpoint: str,
        variant: str,
        request: tuple[bytes, str],
        response: tuple[bytes, str],
    ) -> str:
        """Write one capture file; returns its S3 URI."""
        modes = {o.get("CaptureMode") for o in config.get("CaptureOptions") or []} or {"Input", "Output"}
        if "InputAndOutput" in modes:
            modes |= {"Input", "Output"}
        headers = config.get("CaptureContentTypeHeader") or {}
        capture: dict[str, Any] = {}
        if "Input" in modes:
            capture["endpointInput"] = _captured(request, "INPUT", headers)
        if "Output" in modes:
            capture["endpointOutput"] = _captured(response, "OUTPUT", headers)
        t = time.time()
        event_id = str(uuid.uuid4())
        record = {
            "captureData": capture,
            "eventMetadata": {
                "eventId": event_id,
                "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z",
            },
            "eventVersion": "0",
        }
        bucket, prefix = split_s3_uri(config["DestinationS3Uri"])
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(t))
        name = time.strftime("%M-%S", time.gmtime(t)) + f"-{int(t * 1000) % 1000:03d}-{event_id}.jsonl"
        key = "/".join(p for p in (prefix.strip("/"), endpoint, variant, hour, name) if p)
        self.moto.put_object(account, region, bucket, key, (json.dumps(record) + "\n").encode())
        return f"s3://{bucket}/{key}"

    def write(self, account: str, region: str, uri: str, body: bytes) -> None:
        """Write ``body`` at ``uri`` (the bucket is created if missing)."""
        bucket, key = split_s3_uri(uri)
        self.moto.put_object(account, region, bucket, key, body)

    def read(self, account: str, uri: str) -> bytes:
        """The object at ``uri`` (S3Error if missing)."""
        bucket, key = split_s3_uri(uri)
        return self.moto.get_object(account, bucket, key)


def _captured(data: tuple[bytes, str], mode: str, headers: dict[str, Any]) -> dict[str, Any]:
    body, content_type = data
    base = content_type.split(";")[0].strip().lower()
    if base in [t.lower() for t in headers.get("JsonContentTypes") or []]:
        encoding, text = "JSON", body.decode(errors="replace")
    elif base in [t.lower() for t in headers.get("CsvContentTypes") or []]:
        encoding, text = "CSV", body.decode(errors="replace")
    else:
        encoding, text = "BASE64", base64.b64encode(body).decode()
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}
