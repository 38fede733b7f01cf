"""Drift checks by the page: one sweep per place (region and role) and resync, instead of a Describe per resource.

A sweep lists what the operator's Ready objects stand for, 100 resources per call:

- ListEndpoints and ListInferenceComponents: which exist, their status and LastModifiedTime;
- ListModels and ListEndpointConfigs: which exist (the current revision of a model or config deleted outside the
  operator is created again);
- the Resource Groups Tagging API's GetResources, filtered on the operator's cluster tag: the tags of every endpoint
  and component.

:func:`plan_sweep` (pure) compares that with what status recorded. Only the objects that differ are reconciled, and
those passes look as before (a Describe, ListTags where tags differ). An unchanged endpoint costs nothing beyond its
share of the pages: at the default resync of 300 s, four pages of 100 per 5 minutes, 0.008 calls per endpoint per
minute, where a Describe each was 0.2, and AWS's throttling of Describe calls, per account, is shared by every
cluster in it.

What the lists show is a hint, never a verdict: something missing from a page (created, deleted or tagged while the
pages were read, or left out by the Tagging API's eventual consistency) makes a Describe, which decides.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.model import is_ready
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    INFERENCE_COMPONENT,
    MODEL,
    KubeObject,
    ObjectRef,
)
from sagemaker_operator.reconcile.ownership import CLUSTER_TAG

PAGE = 100  # the most SageMaker's List calls and GetResources return per call
SWEPT_KINDS = (ENDPOINT, INFERENCE_COMPONENT, MODEL, ENDPOINT_CONFIG)
# Resource types whose tags a sweep compares: the live resources, whose tags the operator restores when changed
# outside it (models and configs are tagged when created and when spec.tags changes).
TAGGED_TYPES = {ENDPOINT: "sagemaker:endpoint", INFERENCE_COMPONENT: "sagemaker:inference-component"}


def aws_time(value: Any) -> str | None:
    """A timestamp from an AWS answer as status records it (ISO 8601, to the microsecond, UTC)."""
    if isinstance(value, datetime.datetime):
        stamp: datetime.datetime = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return stamp.astimezone(datetime.UTC).isoformat()
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC).isoformat()
    return str(value) if value else None


@dataclass(frozen=True)
class Seen:
    """One live resource as a listing shows it."""

    status: str
    modified: str | None


@dataclass(frozen=True)
class Listing:
    """What one sweep saw in one place. None: not looked at (no object of that kind there, or no tag check due)."""

    endpoints: Mapping[str, Seen] | None = None
    components: Mapping[str, Seen] | None = None
    models: frozenset[str] | None = None
    configs: frozenset[str] | None = None
    tags: Mapping[str, Mapping[str, str]] | None = None  # by ARN: the resources carrying this cluster's tag


@dataclass(frozen=True)
class Suspect:
    """An object whose AWS resource may have drifted: its next pass describes it (and compares its tags)."""

    ref: ObjectRef
    why: str  # missing, state, modified or tags
    compare_tags: bool = False


@dataclass(frozen=True)
class Recorded:
    """What status says of one object's AWS resource, as a sweep compares it."""

    name: str
    arn: str | None = None
    status: str | None = None
    modified: str | None = None


# Per kind: the status fields of the resource's name, ARN, SageMaker status and LastModifiedTime.
_FIELDS: dict[str, tuple[str, str, str | None, str | None]] = {
    ENDPOINT: ("endpointName", "endpointArn", "endpointStatus", "lastModifiedTime"),
    INFERENCE_COMPONENT: ("inferenceComponentName", "inferenceComponentArn", "inferenceComponentStatus",
                          "lastModifiedTime"),
    MODEL: ("modelName", "modelArn", None, None),
    ENDPOINT_CONFIG: ("endpointConfigName", "endpointConfigArn", None, None),
}


def recorded(obj: KubeObject) -> Recorded | None:
    """What status records of ``obj``'s resource, if the object is one a sweep checks: Ready on its current spec,
    with a resource it knows as its own. Objects that are working, waiting or Degraded are looked at by their own
    passes."""
    fields = _FIELDS.get(obj.kind)
    if fields is None or obj.deleting or not is_ready(obj):
        return None
    name_field, arn_field, status_field, modified_field = fields
    name, arn = obj.status.get(name_field), obj.status.get(arn_field)
    if not name or not arn:
        return None
    return Recorded(name=str(name), arn=str(arn),
                    status=str(obj.status.get(status_field)) if status_field else None,
                    modified=obj.status.get(modified_field) if modified_field else None)


def _comparable(tags: Mapping[str, str]) -> dict[str, str]:
    # Tags AWS itself puts on resources (aws:...) can be neither set nor removed by anyone.
    return {k: v for k, v in tags.items() if not k.startswith("aws:")}


def plan_sweep(objects: Iterable[tuple[KubeObject, Mapping[str, str]]], listing: Listing) -> list[Suspect]:
    """The objects whose resources the listing shows different from what their status recorded. Pure.

    ``objects``: each checked object with the tags its resource should carry. A live resource is suspect when it is
    missing, not in the state status recorded, modified since (a change made outside the operator, or by AWS), or
    its tags differ; a model or config revision when it is missing.
    """
    suspects: list[Suspect] = []
    for obj, wanted_tags in objects:
        seen = recorded(obj)
        if seen is None:
            continue
        if obj.kind in (MODEL, ENDPOINT_CONFIG):
            names = listing.models if obj.kind == MODEL else listing.configs
            if names is not None and seen.name not in names:
                suspects.append(Suspect(obj.ref, "missing"))
            continue
        live = listing.endpoints if obj.kind == ENDPOINT else listing.components
        why = None
        if live is not None:
            entry = live.get(seen.name)
            if entry is None:
                why = "missing"
            elif entry.status != seen.status:
                why = "state"
            elif entry.modified != seen.modified:
                why = "modified"
        tags_differ = False
        if listing.tags is not None:
            actual = listing.tags.get(seen.arn or "")
            tags_differ = actual is None or _comparable(actual) != _comparable(wanted_tags)
        if why is not None or tags_differ:
            suspects.append(Suspect(obj.ref, why or "tags", compare_tags=tags_differ))
    return suspects


def kinds_present(objects: Iterable[KubeObject]) -> frozenset[str]:
    """The kinds a sweep of these objects needs to list."""
    return frozenset(obj.kind for obj in objects if recorded(obj) is not None)


async def list_place(gateway: SageMakerGateway, target: AwsTarget, kinds: frozenset[str], cluster_id: str, *,
                     tags: bool) -> Listing:
    """Read one place by the page: the lists of the kinds present, and (``tags``) the tags of its live resources."""
    endpoints = components = tagged = None
    models = configs = None
    if ENDPOINT in kinds:
        endpoints = {str(e["EndpointName"]): Seen(str(e.get("EndpointStatus")), aws_time(e.get("LastModifiedTime")))
                     for e in await gateway.pages(target, "list_endpoints", "Endpoints", MaxResults=PAGE)}
    if INFERENCE_COMPONENT in kinds:
        components = {str(c["InferenceComponentName"]): Seen(str(c.get("InferenceComponentStatus")),
                                                              aws_time(c.get("LastModifiedTime")))
                      for c in await gateway.pages(target, "list_inference_components", "InferenceComponents",
                                                   MaxResults=PAGE)}
    if MODEL in kinds:
        models = frozenset(str(m["ModelName"]) for m in await gateway.pages(target, "list_models", "Models",
                                                                            MaxResults=PAGE))
    if ENDPOINT_CONFIG in kinds:
        configs = frozenset(str(c["EndpointConfigName"]) for c in await gateway.pages(
            target, "list_endpoint_configs", "EndpointConfigs", MaxResults=PAGE))
    types = sorted(TAGGED_TYPES[kind] for kind in kinds if kind in TAGGED_TYPES)
    if tags and types:
        tagged = {str(r["ResourceARN"]): {t["Key"]: t["Value"] for t in r.get("Tags") or ()}
                  for r in await gateway.pages(target, "get_resources", "ResourceTagMappingList",
                                               service="resourcegroupstaggingapi", token="PaginationToken",
                                               TagFilters=[{"Key": CLUSTER_TAG, "Values": [cluster_id]}],
                                               ResourceTypeFilters=types, ResourcesPerPage=PAGE)}
    return Listing(endpoints=endpoints, components=components, models=models, configs=configs, tags=tagged)


def by_place(objects: Sequence[tuple[KubeObject, AwsTarget | None]]) -> dict[AwsTarget, list[KubeObject]]:
    """Checked objects grouped by where their resources live (objects without a place are left out)."""
    places: dict[AwsTarget, list[KubeObject]] = {}
    for obj, target in objects:
        if target is not None and recorded(obj) is not None:
            places.setdefault(target, []).append(obj)
    return places
