"""Artifact-aware revisions: the identity of every S3 artifact a model names, read with the cheapest S3 call.

SageMaker loads a model's artifacts when an instance starts: a file overwritten in place after the model was
created is served by whichever instance starts next, silently. With tracking on, the identity of each artifact (its
ETag and, on versioned buckets, its VersionId; for a prefix, a digest of its keys and ETags) is part of the model's
revision: an overwritten artifact makes a new revision, and the endpoint moves to it with UpdateEndpoint like after
an image change. Where the API takes it (``ModelDataSource.S3DataSource.ETag``), the ETag seen is pinned in the
request, so that SageMaker refuses to start an instance on a file that no longer matches.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway

# One ListObjectsV2 page: a prefix with more objects is refused rather than read page after page on every check.
MAX_PREFIX_OBJECTS = 1000
TRACKING_FIELD = "artifactTracking"


@dataclass(frozen=True)
class ArtifactRef:
    """One S3 artifact of a CreateModel request."""

    uri: str
    prefix: bool  # S3Prefix: every object under the URI
    at: str  # where in the request, for messages: PrimaryContainer.ModelDataUrl
    pinnable: bool  # the request has an ETag member for it (ModelDataSource.S3DataSource of an S3Object)


@dataclass(frozen=True)
class ArtifactIdentity:
    """What S3 said of one artifact: enough to tell that it changed."""

    uri: str
    etag: str | None = None
    version_id: str | None = None
    objects: int | None = None  # prefix: how many objects
    digest: str | None = None  # prefix: of their keys and ETags

    def as_status(self) -> dict[str, Any]:
        """How status records it (camelCase, absent values left out)."""
        fields = {"uri": self.uri, "etag": self.etag, "versionId": self.version_id, "objects": self.objects,
                  "digest": self.digest}
        return {k: v for k, v in fields.items() if v is not None}

    @classmethod
    def from_status(cls, entry: Mapping[str, Any]) -> ArtifactIdentity:
        """The identity status recorded."""
        return cls(uri=str(entry["uri"]), etag=entry.get("etag"), version_id=entry.get("versionId"),
                   objects=entry.get("objects"), digest=entry.get("digest"))

    def change_from(self, before: ArtifactIdentity) -> str:
        """How this identity differs from ``before``, in words, for an event."""
        if self.digest or before.digest:
            return f"{self.uri}: objects or their ETags changed ({before.objects} -> {self.objects} objects)"
        if self.version_id and before.version_id and self.version_id != before.version_id:
            return f"{self.uri}: version {before.version_id} -> {self.version_id}"
        return f"{self.uri}: ETag {before.etag} -> {self.etag}"


class ArtifactUnreadable(Exception):
    """S3 did not tell an artifact's identity; the message names the URI and what is missing."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def tracking_enabled(spec: Mapping[str, Any], default: bool) -> bool:
    """``spec.artifactTracking`` (Enabled / Disabled), else the operator's ``--artifact-tracking``."""
    value = spec.get(TRACKING_FIELD)
    return default if value is None else value == "Enabled"


def artifact_refs(request: Mapping[str, Any]) -> list[ArtifactRef]:
    """Every S3 artifact a CreateModel request names, in request order. Pure."""
    containers: list[tuple[str, Mapping[str, Any]]] = []
    if request.get("PrimaryContainer"):
        containers.append(("PrimaryContainer", request["PrimaryContainer"]))
    containers += [(f"Containers[{i}]", c) for i, c in enumerate(request.get("Containers") or ())]
    refs: list[ArtifactRef] = []
    for where, container in containers:
        if container.get("ModelDataUrl"):
            refs.append(ArtifactRef(str(container["ModelDataUrl"]), False, f"{where}.ModelDataUrl", False))
        source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if source:
            refs.append(_source_ref(source, f"{where}.ModelDataSource.S3DataSource"))
        for index, extra in enumerate(container.get("AdditionalModelDataSources") or ()):
            if extra.get("S3DataSource"):
                refs.append(_source_ref(extra["S3DataSource"],
                                        f"{where}.AdditionalModelDataSources[{index}].S3DataSource"))
    return refs


def _source_ref(source: Mapping[str, Any], at: str) -> ArtifactRef:
    prefix = source.get("S3DataType") == "S3Prefix"
    return ArtifactRef(str(source["S3Uri"]), prefix, at, pinnable=not prefix and at.endswith(
        "ModelDataSource.S3DataSource"))


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def pin(request: Mapping[str, Any], identities: Sequence[ArtifactIdentity]) -> dict[str, Any]:
    """``request`` with the ETag seen pinned where the API takes one (and the spec set none). Pure."""
    pinned = copy.deepcopy(dict(request))
    etags = {i.uri: i.etag for i in identities if i.etag}
    for source in _pinnable_sources(pinned):
        if not source.get("ETag") and etags.get(str(source.get("S3Uri"))):
            source["ETag"] = etags[str(source["S3Uri"])]
    return pinned


def _pinnable_sources(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    containers = ([request["PrimaryContainer"]] if request.get("PrimaryContainer") else []) + list(
        request.get("Containers") or ())
    for container in containers:
        source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if source and source.get("S3DataType") != "S3Prefix":
            yield source


async def observe(gateway: SageMakerGateway, target: AwsTarget, refs: Sequence[ArtifactRef]
                  ) -> list[ArtifactIdentity]:
    """The identity of each artifact: HeadObject for an object, one ListObjectsV2 page for a prefix. Read-only.

    Raises ArtifactUnreadable naming the URI and the permission S3 refused, or the artifact that is missing;
    throttling and 5xx propagate (the caller retries later).
    """
    identities = []
    for ref in refs:
        bucket, key = split_uri(ref.uri)
        try:
            if ref.prefix:
                page = await gateway.call(target, "list_objects_v2", service="s3", Bucket=bucket, Prefix=key,
                                          MaxKeys=MAX_PREFIX_OBJECTS)
                if page.get("IsTruncated"):
                    raise ArtifactUnreadable("ArtifactTooLarge", f"{ref.at}: more than {MAX_PREFIX_OBJECTS} objects "
                                                                 f"under {ref.uri}: too many to track; track an "
                                                                 "object or set artifactTracking: Disabled")
                contents = sorted((str(o["Key"]), str(o.get("ETag", "")).strip('"'))
                                  for o in page.get("Contents", []))
                if not contents:
                    raise ArtifactUnreadable("ArtifactMissing", f"{ref.at}: no object under {ref.uri}")
                digest = hashlib.sha256(repr(contents).encode()).hexdigest()[:16]
                identities.append(ArtifactIdentity(ref.uri, objects=len(contents), digest=digest))
            else:
                head = await gateway.call(target, "head_object", service="s3", Bucket=bucket, Key=key)
                identities.append(ArtifactIdentity(ref.uri, etag=str(head.get("ETag", "")).strip('"') or None,
                                                   version_id=head.get("VersionId") or None))
        except AwsFailure as failure:
            if failure.kind.retryable:
                raise
            permission = "s3:ListBucket" if ref.prefix else "s3:GetObject"
            if failure.kind is FailureKind.ACCESS_DENIED or failure.code in ("403", "AccessDenied", "Forbidden"):
                raise ArtifactUnreadable("ArtifactUnreadable", f"{ref.at}: cannot read {ref.uri}: S3 denied "
                                                               f"{permission} to the operator's role") from None
            if failure.kind is FailureKind.NOT_FOUND or failure.code in ("404", "NoSuchKey", "NoSuchBucket",
                                                                         "NotFound"):
                raise ArtifactUnreadable("ArtifactMissing", f"{ref.at}: {ref.uri} does not exist") from None
            raise ArtifactUnreadable("ArtifactUnreadable", f"{ref.at}: cannot read {ref.uri}: S3 said "
                                                           f"{failure.code}: {failure.message}") from None
    return identities
