"""Immutable AWS resources (models, endpoint configs): one AWS resource per spec revision.

Shared by the model and endpoint-config reconcilers: create-or-adopt a revision by name, keep a history of
revisions in status, garbage-collect the ones past ``revisionHistoryLimit`` that nothing uses, delete them all.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore import xform_name

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.reconcile.actions import (
    RESOURCE,
    TAGS,
    AlreadyExists,
    Call,
    Need,
    Plan,
    execute,
    observe,
    tag_calls,
)
from sagemaker_operator.reconcile.context import ReconcileContext
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.reconcile.ownership import ADOPT_ANNOTATION, Custody, as_aws_tags
from sagemaker_operator.status import EventRecord, Outcome, State


@dataclass(frozen=True)
class ImmutableKind:
    """How one immutable SageMaker resource type is called, and where its object's status keeps it."""

    noun: str  # "model", "endpoint configuration": as AWS words it
    name_member: str  # ModelName
    arn_member: str  # ModelArn
    create: str  # API names
    describe: str
    delete: str
    name_field: str  # status field of the current revision's name: modelName
    arn_field: str  # and of its ARN: modelArn


MODEL_RESOURCE = ImmutableKind("model", "ModelName", "ModelArn", "CreateModel", "DescribeModel", "DeleteModel",
                               "modelName", "modelArn")
CONFIG_RESOURCE = ImmutableKind("endpoint configuration", "EndpointConfigName", "EndpointConfigArn",
                                "CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig",
                                "endpointConfigName", "endpointConfigArn")


class Unseen(enum.Enum):
    """Whether the revision exists in AWS was not looked at (the operator creates first and asks on a clash)."""

    UNSEEN = "unseen"


UNSEEN = Unseen.UNSEEN


@dataclass(frozen=True)
class RevisionDesired:
    """The revision the spec asks for: its AWS name, its Create request (without tags) and what status records."""

    name: str
    revision: str
    request: Mapping[str, Any]
    history_extra: Mapping[str, Any] = field(default_factory=dict)  # recorded with the revision (a config's models)
    fields: Mapping[str, Any] = field(default_factory=dict)  # reported in status


@dataclass(frozen=True)
class RevisionFacts:
    """What was observed: the resource of the wanted name (None: missing), its tags, and whether a Create found
    the name taken (then it may be someone else's)."""

    found: Mapping[str, Any] | Unseen | None = UNSEEN
    tags: Mapping[str, str] | None = None
    taken: bool = False


def plan_revision(resource: ImmutableKind, desired: RevisionDesired, status: Mapping[str, Any], facts: RevisionFacts,
                  custody: Custody, in_use: Collection[str], history_limit: int, cautious: bool = False,
                  verify: bool = False) -> Plan:
    """Make the AWS revision of ``desired`` exist, keep the history, collect old revisions nothing uses. Pure.

    A new revision is created without looking first (one call; a clash is answered by observing and planning
    again). A revision in the history (a revert) most likely exists: it is looked up instead. ``cautious`` (the
    first pass of a new leader, whose predecessor may have created it without recording it): looked up too, so that
    the create is not sent twice. ``verify`` (a drift check found the current revision missing from its list): it is
    looked up, and created again if it is gone.
    """
    name = desired.name
    arn = str(status.get(resource.arn_field) or "")
    history = list(status.get("revisions") or [])
    calls: list[Call] = []
    events: list[EventRecord] = []
    current = status.get(resource.name_field) == name and bool(arn)
    if current and verify and isinstance(facts.found, Unseen):
        return Plan.needs(Need(RESOURCE))
    if current and verify and facts.found is None:
        calls.append(Call(resource.create, {**desired.request, "Tags": as_aws_tags(dict(custody.tags))}))
        events.append(EventRecord("DriftCorrected", f"AWS {resource.noun} {name} was deleted outside the operator: "
                                                    "created again", warning=True))
        arn = ""
    elif not current:
        retained = any(h.get("name") == name for h in history)
        if isinstance(facts.found, Unseen) and (retained or cautious):
            return Plan.needs(Need(RESOURCE))
        if isinstance(facts.found, Unseen) or facts.found is None:
            calls.append(Call(resource.create, {**desired.request, "Tags": as_aws_tags(dict(custody.tags))}))
            events.append(EventRecord("Created", f"Created AWS {resource.noun} {name}"))
            arn = ""  # the Create answer tells
        else:
            arn = str(facts.found[resource.arn_member])
            if facts.taken or not retained:
                # Found by name: most often our own, created before a crash cut us off from writing status.
                if facts.tags is None:
                    return Plan.needs(Need(TAGS, arn=arn))
                if not custody.owner.owns(dict(facts.tags)) and not custody.adopt:
                    return Plan(State.DEGRADED, "NotOwned",
                                f"AWS {resource.noun} {name} already exists and "
                                f"{custody.owner.describe_foreign(dict(facts.tags))}; set the annotation "
                                f"{ADOPT_ANNOTATION}: \"true\" to take it over")
                calls += tag_calls(arn, facts.tags, custody.tags)
    elif not custody.spec_unchanged:
        # Same revision, other operator fields: the tags may be what changed.
        if facts.tags is None:
            return Plan.needs(Need(TAGS, arn=arn))
        calls += tag_calls(arn, facts.tags, custody.tags)
    history = record_revision(history, {"name": name, "revision": desired.revision, **desired.history_extra})
    deleted = collectable(history, history_limit, in_use)
    calls += [Call(resource.delete, {resource.name_member: old}, missing_ok=True) for old in deleted]
    if deleted:
        events.append(EventRecord("GarbageCollected", f"Deleted old AWS {resource.noun}s {', '.join(deleted)}"))
    fields = {resource.name_field: name, resource.arn_field: arn or None, "revision": desired.revision,
              **desired.fields, "revisions": [h for h in history if h["name"] not in deleted]}
    return Plan(State.READY, "Available", f"AWS {resource.noun} {name} is available", calls=tuple(calls),
                fields=fields, events=tuple(events))


async def plan_revision_pass(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, resource: ImmutableKind,
                             desired: RevisionDesired, in_use: Collection[str],
                             facts: RevisionFacts = RevisionFacts(), cautious: bool = False, verify: bool = False
                             ) -> Plan:
    """Plan, observing (read-only) what the planner asks for."""
    custody = ctx.custody(obj, compare_tags=False)
    while True:
        plan = plan_revision(resource, desired, obj.status, facts, custody, in_use, ctx.history_limit(obj),
                             cautious, verify)
        if plan.need is None:
            return plan
        if plan.need.what == RESOURCE:
            facts = replace(facts, found=await observe(ctx.gateway, target, plan.need,
                                                       Call(resource.describe, {resource.name_member: desired.name})))
        else:
            facts = replace(facts, tags=await observe(ctx.gateway, target, plan.need))


async def reconcile_revision(ctx: ReconcileContext, obj: KubeObject, target: AwsTarget, resource: ImmutableKind,
                             desired: RevisionDesired, in_use: Collection[str]) -> Outcome:
    """Plan and execute; a Create that finds its name taken is answered by looking at the resource and planning
    again (once)."""
    facts = RevisionFacts()
    cautious = ctx.first_pass(obj.ref)
    verify = ctx.suspected(obj.ref)
    try:
        while True:
            plan = await plan_revision_pass(ctx, target, obj, resource, desired, in_use, facts, cautious, verify)
            try:
                answers = await execute(ctx.gateway, target, plan.calls)
                break
            except AlreadyExists as clash:
                if facts.taken:
                    raise clash.failure from None
                found = await ctx.gateway.call(target, xform_name(resource.describe),
                                               **{resource.name_member: desired.name})
                facts = RevisionFacts(found=found, taken=True)
    except AwsFailure as failure:
        if verify:
            # A drift check found the revision missing and creating it again failed (its model may be being
            # created again too): the next pass, whatever wakes it, looks again rather than trusting status.
            ctx.suspect(obj.ref, compare_tags=False)
        return failure_outcome(failure, f"reconciling AWS {resource.noun} {desired.name}")
    if plan.state is not State.READY:
        return Outcome(plan.state, plan.reason, plan.message, events=list(plan.events))
    fields = {**plan.fields, "region": target.region}
    created = False
    for call, answer in zip(plan.calls, answers, strict=True):
        if call.api == resource.create:
            fields[resource.arn_field] = str(answer[resource.arn_member])
            created = True
    return Outcome(plan.state, plan.reason, plan.message, fields=fields, events=list(plan.events), created=created)


def record_revision(history: Sequence[Mapping[str, Any]], entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The revision history with ``entry`` as the current (first) one; an older copy of it is moved, not kept."""
    return [dict(entry), *(dict(h) for h in history if h.get("name") != entry.get("name"))]


def may_collect(status: Mapping[str, Any], limit: int) -> bool:
    """Whether the status keeps more revisions than the current one plus ``limit``: only then can a user letting go
    of one make it collectable."""
    return len(status.get("revisions") or ()) > 1 + limit


def collectable(history: Sequence[Mapping[str, Any]], limit: int, in_use: Collection[str]) -> list[str]:
    """Names past the current revision plus ``limit`` retained ones that nothing uses: safe to delete."""
    return [str(h["name"]) for h in history[1 + limit:] if h.get("name") not in in_use]


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
        await execute(ctx.gateway, target, [Call(resource.delete, {resource.name_member: name}, missing_ok=True)
                                            for name in revisions])
    except AwsFailure as failure:
        return failure_outcome(failure, f"deleting AWS {resource.noun}s")
    done = f"Deleted AWS {resource.noun}s {', '.join(revisions)}"
    return Outcome.progressing("Deleted", done, finalized=True, events=[EventRecord("Deleted", done)])
