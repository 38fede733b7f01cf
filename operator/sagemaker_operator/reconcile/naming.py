"""Names of the AWS resources behind each custom resource.

SageMaker models and endpoint configs are immutable, so every distinct desired state gets its own AWS resource,
named ``<object name>-<content hash>``. The same spec always gives the same name: a reverted spec finds its old
resource again, and a crash between "create" and "write status" is repaired by finding the resource by name.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# AWS's pattern for model, endpoint config and endpoint names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
AWS_NAME_MAX = 63
AWS_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9-]+")


def content_hash(request: Any) -> str:
    """A short, stable hash of a rendered AWS request (key order does not matter)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def sanitize(name: str) -> str:
    """Turn a Kubernetes object name into the characters AWS names allow (dots become hyphens)."""
    cleaned = _NOT_ALLOWED.sub("-", name).strip("-")
    return cleaned or "x"


def revision_name(object_name: str, digest: str) -> str:
    """``<object name>-<hash>``, shortened so the whole stays within AWS's 63 characters."""
    prefix = sanitize(object_name)[: AWS_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{prefix}-{digest}"


def revision_of(aws_name: str, object_name: str) -> str | None:
    """The hash part of ``aws_name`` if it is a revision name of ``object_name``, else None."""
    prefix, _, digest = aws_name.rpartition("-")
    if len(digest) != HASH_LENGTH or revision_name(object_name, digest) != aws_name or not prefix:
        return None
    return digest


def valid_aws_name(name: str) -> bool:
    """Whether SageMaker accepts ``name`` as a model, endpoint config or endpoint name."""
    return bool(AWS_NAME_PATTERN.match(name))
