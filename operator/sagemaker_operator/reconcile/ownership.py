"""Ownership tags: which custom resource, in which cluster, an AWS resource belongs to.

Every AWS resource the operator creates carries these tags. The operator never updates or deletes an AWS resource
whose tags name another owner, unless the object carries the adoption annotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TAG_PREFIX = "sagemaker.operator.dev/"
CLUSTER_TAG = f"{TAG_PREFIX}cluster"
NAMESPACE_TAG = f"{TAG_PREFIX}namespace"
NAME_TAG = f"{TAG_PREFIX}name"
KIND_TAG = f"{TAG_PREFIX}kind"
UID_TAG = f"{TAG_PREFIX}uid"
OWNERSHIP_TAGS = (CLUSTER_TAG, NAMESPACE_TAG, NAME_TAG, KIND_TAG, UID_TAG)
ADOPT_ANNOTATION = "sagemaker.operator.dev/adopt"


@dataclass(frozen=True)
class Owner:
    """The custom resource an AWS resource belongs to."""

    cluster: str
    kind: str
    namespace: str
    name: str
    uid: str

    def tags(self) -> dict[str, str]:
        """The ownership tags to put on AWS resources of this owner."""
        return {CLUSTER_TAG: self.cluster, KIND_TAG: self.kind, NAMESPACE_TAG: self.namespace,
                NAME_TAG: self.name, UID_TAG: self.uid}

    def owns(self, tags: dict[str, str]) -> bool:
        """Whether ``tags`` say this owner's resource.

        The uid is not compared: an object deleted with ``deletionPolicy: Retain`` and created again under the same
        name is the same owner in the user's eyes, and picks its resources up again.
        """
        return (tags.get(CLUSTER_TAG) == self.cluster and tags.get(KIND_TAG) == self.kind
                and tags.get(NAMESPACE_TAG) == self.namespace and tags.get(NAME_TAG) == self.name)

    def describe_foreign(self, tags: dict[str, str]) -> str:
        """Who owns a resource with these tags, in words, for a condition message."""
        if not any(key in tags for key in OWNERSHIP_TAGS):
            return "it was not created by sagemaker-operator"
        return (f"it belongs to {tags.get(KIND_TAG, '?')} {tags.get(NAMESPACE_TAG, '?')}/{tags.get(NAME_TAG, '?')}"
                f" in cluster {tags.get(CLUSTER_TAG, '?')}")


def desired_tags(user_tags: dict[str, str], owner: Owner) -> dict[str, str]:
    """User tags plus ownership tags; the ownership tags win (a user cannot disown a resource by tagging)."""
    return {**{k: v for k, v in user_tags.items() if not k.startswith(TAG_PREFIX)}, **owner.tags()}


def as_aws_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags in the list-of-pairs form SageMaker's Create* calls take."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


@dataclass(frozen=True)
class Custody:
    """What a plan needs to know of an object's claim on its AWS resources, and of their tags."""

    owner: Owner
    tags: Mapping[str, str]  # the tags AWS should carry: spec.tags plus ownership tags
    digest: str  # of ``tags``, recorded in status as tagsDigest once AWS has them
    adopt: bool  # the adoption annotation is set
    compare_tags: bool  # this pass compares AWS's tags with ``tags`` (every Nth drift check, or after a change)
    tags_recorded: bool  # status says AWS already has ``tags``
    spec_unchanged: bool  # the spec is the one last acted on: a tag difference is drift, not a change
