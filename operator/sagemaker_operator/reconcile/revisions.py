"""Immutable AWS resources (models, endpoint configs): one AWS resource per spec revision.

Shared by the model and endpoint-config reconcilers: create-or-adopt a revision by name, keep a history of
revisions in status, garbage-collect the ones past ``revisionHistoryLimit`` that nothing uses, delete them all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.reconcile.context import ReconcileContext
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.reconcile.ownership import ADOPT_ANNOTATION, as_aws_tags
from sagemaker_operator.status import EventRecord, Outcome


@dataclass(frozen=True)
class ImmutableKind:
    """How one immutable SageMaker resource type is called, and where its object's status keeps it."""

    noun: str  # "model", "endpoint configuration": as AWS words it
    name_member: str  # ModelName
    arn_member: str  # ModelArn
    create: str  # boto3 method names
    describe: str
    delete: str
    name_field: str  # status field of the current revision's name: modelName
    arn_field: str  # and of its ARN: modelArn


MODEL_RESOURCE = ImmutableKind("model", "ModelName", "ModelArn", "create_model", "describe_model", "delete_model",
                               "modelName", "modelArn")
CONFIG_RESOURCE = ImmutableKind("endpoint configuration", "EndpointConfigName", "EndpointConfigArn",
                                "create_endpoint_config", "describe_endpoint_config", "delete_endpoint_config",
                                "endpointConfigName", "endpointConfigArn")


class ForeignResource(Exception):
    """An AWS resource with the wanted name exists and belongs to someone else."""


@dataclass(frozen=True)
class Created:
    """The revision exists now: its ARN, and whether this call created it (False: found or adopted)."""

    arn: str
    created: bool


async def ensure_revision(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, resource: ImmutableKind,
                          request: Mapping[str, Any], tags: Mapping[str, str], *, retained: bool = False) -> Created:
    """Create the AWS resource for ``request``, or take the existing one of the same name if it is ours.

    ``retained``: the revision is in the object's history (a revert), so it most likely exists: one Describe
    instead of a Create that would fail.
    """
    name = str(request[resource.name_member])
    if retained:
        found = await ctx.gateway.describe(target, resource.describe, **{resource.name_member: name})
        if found is not None:
            return Created(arn=str(found[resource.arn_member]), created=False)
    try:
        response = await ctx.gateway.call(target, resource.create, **request, Tags=as_aws_tags(dict(tags)))
        return Created(arn=str(response[resource.arn_member]), created=True)
    except AwsFailure as failure:
        if failure.kind is not FailureKind.ALREADY_EXISTS:
            raise
    # Found by name: most often our own, created before a crash cut us off from writing status.
    found = await ctx.gateway.call(target, resource.describe, **{resource.name_member: name})
    arn = str(found[resource.arn_member])
    current_tags = await ctx.gateway.list_tags(target, arn)
    owner = ctx.owner(obj)
    if not owner.owns(current_tags) and obj.annotations.get(ADOPT_ANNOTATION) != "true":
        raise ForeignResource(
            f"AWS {resource.noun} {name} already exists and {owner.describe_foreign(current_tags)}; "
            f"set the annotation {ADOPT_ANNOTATION}: \"true\" to take it over")
    await ctx.gateway.set_tags(target, arn, current_tags, dict(tags))
    return Created(arn=arn, created=False)


def record_revision(history: Sequence[Mapping[str, Any]], entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The revision history with ``entry`` as the current (first) one; an older copy of it is moved, not kept."""
    return [dict(entry), *(dict(h) for h in history if h.get("name") != entry.get("name"))]


def collectable(history: Sequence[Mapping[str, Any]], limit: int, in_use: Collection[str]) -> list[str]:
    """Names past the current revision plus ``limit`` retained ones that nothing uses: safe to delete."""
    return [str(h["name"]) for h in history[1 + limit:] if h.get("name") not in in_use]


async def delete_revisions(ctx: ReconcileContext, target: AwsTarget, resource: ImmutableKind,
                           names: Collection[str]) -> list[str]:
    """Delete these AWS resources (already gone counts as deleted); return the names deleted."""
    for name in names:
        await ctx.gateway.delete(target, resource.delete, **{resource.name_member: name})
    return list(names)


async def reconcile_revision(ctx: ReconcileContext, obj: KubeObject, target: AwsTarget, resource: ImmutableKind,
                             request: Mapping[str, Any], revision: str, in_use: Collection[str],
                             history_extra: Mapping[str, Any], fields: Mapping[str, Any]) -> Outcome:
    """Make the AWS revision of ``request`` exist, keep its history, collect old revisions nothing uses.

    ``history_extra`` is recorded with the revision (a config's model names); ``fields`` are reported in status.
    """
    name = str(request[resource.name_member])
    status = obj.status
    events: list[EventRecord] = []
    arn = str(status.get(resource.arn_field) or "")
    try:
        if status.get(resource.name_field) != name or not arn:
            retained = any(h.get("name") == name for h in status.get("revisions") or ())
            created = await ensure_revision(ctx, target, obj, resource, request, ctx.tags(obj), retained=retained)
            arn = created.arn
            if created.created:
                events.append(EventRecord("Created", f"Created AWS {resource.noun} {name}"))
        elif status.get("observedGeneration") != obj.generation:
            # Same revision, other operator fields: the tags may be what changed.
            current = await ctx.gateway.list_tags(target, arn)
            await ctx.gateway.set_tags(target, arn, current, ctx.tags(obj))
        history = record_revision(status.get("revisions") or [], {"name": name, "revision": revision,
                                                                  **history_extra})
        deleted = await delete_revisions(ctx, target, resource,
                                         collectable(history, ctx.history_limit(obj), in_use))
    except ForeignResource as foreign:
        return Outcome.degraded("NotOwned", str(foreign))
    except AwsFailure as failure:
        return failure_outcome(failure, f"reconciling AWS {resource.noun} {name}")
    if deleted:
        events.append(EventRecord("GarbageCollected", f"Deleted old AWS {resource.noun}s {', '.join(deleted)}"))
    return Outcome.ready(
        "Available", f"AWS {resource.noun} {name} is available",
        fields={resource.name_field: name, resource.arn_field: arn, "revision": revision, "region": target.region,
                **fields, "revisions": [h for h in history if h["name"] not in deleted]},
        events=events)


async def finalize_revisions(ctx: ReconcileContext, obj: KubeObject, resource: ImmutableKind,
                             users: Sequence[KubeObject]) -> Outcome:
    """Delete every AWS revision of ``obj`` once none of ``users`` (the objects referencing it) is left."""
    if obj.spec.get("deletionPolicy") == "Retain":
        return Outcome.progressing("Retained", f"deletionPolicy is Retain: the AWS {resource.noun}s are kept",
                                   finalized=True)
    if users:
        names = ", ".join(sorted(f"{u.kind} {u.name}" for u in users))
        return Outcome.progressing("WaitingForDependents", f"waiting for {names} to stop referencing this "
                                                           f"{resource.noun} before deleting it")
    revisions = [str(h["name"]) for h in obj.status.get("revisions") or []]
    if not revisions:
        return Outcome.progressing("Deleted", f"no AWS {resource.noun} to delete", finalized=True)
    target = await ctx.deletion_step_target(obj)
    if isinstance(target, Outcome):
        return target
    try:
        await delete_revisions(ctx, target, resource, revisions)
    except AwsFailure as failure:
        return failure_outcome(failure, f"deleting AWS {resource.noun}s")
    done = f"Deleted AWS {resource.noun}s {', '.join(revisions)}"
    return Outcome.progressing("Deleted", done, finalized=True, events=[EventRecord("Deleted", done)])
