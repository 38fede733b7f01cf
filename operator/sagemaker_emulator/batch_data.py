"""Batch transform's data handling, as AWS documents it: records, mini-batches, JSONPath filters, joins, assembly.

Pure functions over bytes; :mod:`transform` reads the objects from S3 and writes what these return.

* **SplitType** ``None`` (the object is one record), ``Line`` (one record per line; a final newline ends the last
  record, it does not start an empty one), ``RecordIO`` (MXNet RecordIO framing: magic ``0xced7230a``, a 4-byte
  little-endian length word whose upper 3 bits are the continuation flag, the payload padded to 4 bytes).
* **BatchStrategy** ``SingleRecord`` (one record per request) or ``MultiRecord`` (as many consecutive records per
  request as fit within ``MaxPayloadInMB``; ``0`` means no limit). A single record larger than the limit fails.
* **JSONPath** (InputFilter, OutputFilter): ``$``, ``$.a.b``, ``$['a','b']``, ``$[1]``, ``$[-1]``, ``$[0,2]``,
  ``$[1:3]`` (Python slice, end excluded), ``$[1:]``, ``$[*]`` and ``$.a[*]``; a CSV record is the list of its
  columns, so ``$[0,-1]`` keeps the first and last columns.
* **JoinSource** ``Input``: a JSON object gets the output under ``SageMakerOutput``; a JSON array or a CSV row gets
  the output appended.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
from collections.abc import Iterator
from typing import Any

RECORDIO_MAGIC = 0xCED7230A
MB = 1024 * 1024


class RecordError(Exception):
    """A record the job cannot process; the message goes to the job's logs."""


# ----------------------------------------------------------------------------------------------- records
def split_records(data: bytes, split_type: str) -> list[bytes]:
    """The records of one input object."""
    if split_type == "Line":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [line.rstrip(b"\r") for line in lines]
    if split_type == "RecordIO":
        return list(_recordio(data))
    return [data]


def _recordio(data: bytes) -> Iterator[bytes]:
    offset, pending = 0, b""
    while offset < len(data):
        if len(data) - offset < 8:
            raise RecordError("Invalid RecordIO: truncated record header.")
        magic, word = struct.unpack_from("<II", data, offset)
        if magic != RECORDIO_MAGIC:
            raise RecordError(f"Invalid RecordIO: bad magic number at byte {offset}.")
        flag, length = word >> 29, word & ((1 << 29) - 1)
        start = offset + 8
        payload = data[start : start + length]
        offset = start + length + (-length % 4)
        # flag 0: a whole record; 1: first part, 2: middle part, 3: last part.
        if flag == 0:
            yield payload
        elif flag in (1, 2):
            pending += payload
        else:
            yield pending + payload
            pending = b""


def recordio_record(payload: bytes) -> bytes:
    """One whole RecordIO record (for writing test data and for assembling RecordIO output)."""
    return struct.pack("<II", RECORDIO_MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def mini_batches(records: list[bytes], strategy: str, max_payload_mb: int) -> list[list[bytes]]:
    """Group records into requests; RecordError for a record over the payload limit."""
    limit = max_payload_mb * MB
    for record in records:
        if limit and len(record) > limit:
            raise RecordError("Too much data for max payload size")
    if strategy != "MultiRecord":
        return [[r] for r in records]
    batches: list[list[bytes]] = []
    size = 0
    for record in records:
        if batches and (not limit or size + len(record) + 1 <= limit):
            batches[-1].append(record)
            size += len(record) + 1
        else:
            batches.append([record])
            size = len(record)
    return batches


# ----------------------------------------------------------------------------------------------- values
def is_csv(content_type: str | None) -> bool:
    """Whether records of this content type are CSV rows."""
    return (content_type or "").split(";")[0].strip().lower() == "text/csv"


def parse_record(record: bytes, content_type: str | None) -> Any:
    """A record as a value: a CSV row is the list of its columns, JSON is parsed, anything else is text."""
    text = record.decode("utf-8", errors="replace")
    if is_csv(content_type):
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except ValueError:
        if content_type and "json" in content_type.lower():
            raise RecordError(f"Cannot parse the record as JSON: {text[:100]!r}") from None
        return text


def render_value(value: Any, content_type: str | None) -> bytes:
    """A value back as a record (CSV row or compact JSON)."""
    if is_csv(content_type):
        row = value if isinstance(value, list) else [value]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            [json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v for v in row]
        )
        return out.getvalue().encode()
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def join_input(source: Any, output: Any) -> Any:
    """JoinSource=Input: the output under ``SageMakerOutput`` of a JSON object, appended to an array or row."""
    if isinstance(source, dict):
        return {**source, "SageMakerOutput": output}
    if isinstance(source, list):
        return [*source, output]
    return [source, output]


# ----------------------------------------------------------------------------------------------- JSONPath
_TOKEN_RE = re.compile(r"\.([A-Za-z_][\w-]*|\*)|\[([^\]]*)\]")


class JsonPathError(ValueError):
    """A JSONPath outside the subset batch transform supports."""


def _steps(path: str) -> list[tuple[str, Any]]:
    if not path.startswith("$"):
        raise JsonPathError(f"JSONPath must start with '$': {path!r}")
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN_RE.match(path, pos)
        if match is None:
            raise JsonPathError(f"Unsupported JSONPath {path!r} at {path[pos:]!r}")
        pos = match.end()
        if match.group(1) is not None:
            name = match.group(1)
            steps.append(("all", None) if name == "*" else ("names", [name]))
            continue
        inner = match.group(2).strip()
        if inner == "*":
            steps.append(("all", None))
        elif inner.startswith(("'", '"')):
            steps.append(("names", [part.strip().strip("'\"") for part in inner.split(",")]))
        elif ":" in inner and "," not in inner:
            start, _, end = inner.partition(":")
            steps.append(("slice", (int(start) if start.strip() else None, int(end) if end.strip() else None)))
        else:
            items: list[Any] = []
            for part in inner.split(","):
                if ":" in part:
                    start, _, end = part.partition(":")
                    items.append((int(start) if start.strip() else None, int(end) if end.strip() else None))
                else:
                    items.append(int(part))
            steps.append(("indexes", items))
    return steps


def check_jsonpath(path: str) -> None:
    """Raise JsonPathError if ``path`` is outside the supported subset."""
    try:
        _steps(path)
    except ValueError as exc:
        raise JsonPathError(str(exc)) from None


def apply_jsonpath(path: str, value: Any) -> Any:
    """Select from ``value``. A single name or index gives that item; several, a slice or ``*`` give a list."""
    result = value
    for kind, arg in _steps(path):
        try:
            if kind == "names":
                if not isinstance(result, dict):
                    raise RecordError(f"JSONPath {path} selects names from a value that is not an object")
                result = result.get(arg[0]) if len(arg) == 1 else {n: result[n] for n in arg if n in result}
            elif kind == "all":
                result = list(result.values()) if isinstance(result, dict) else list(result)
            elif kind == "slice":
                result = list(result)[slice(arg[0], arg[1])]
            else:
                items = list(result)
                picked = []
                for item in arg:
                    if isinstance(item, tuple):
                        picked.extend(items[slice(item[0], item[1])])
                    else:
                        picked.append(items[item])
                result = picked[0] if len(arg) == 1 and not isinstance(arg[0], tuple) else picked
        except (IndexError, TypeError) as exc:
            raise RecordError(f"JSONPath {path} does not apply to the record: {exc}") from None
    return result

