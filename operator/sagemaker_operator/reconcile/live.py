"""Live AWS resources (endpoints, inference components): the one step both kinds are reconciled and deleted by.

A pass is: resolve the spec (references to AWS names) -> skip AWS entirely when status says it is converged and no
drift check is due -> observe (one Describe) -> plan (pure: ownership, the kind's decision table, autoscaling and
tags, all as calls of one :class:`~sagemaker_operator.reconcile.actions.Plan`) -> execute -> report. What differs
between the kinds is their decision table and their status fields: a :class:`LiveResource` supplies them.

``kubectl sagemaker plan`` runs the same :func:`plan_pass` with read-only observation and prints the calls.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.reconcile import autoscaling
from sagemaker_operator.reconcile.actions import (
    SCALING_POLICIES,
    TAGS,
    AlreadyExists,
    Call,
    Need,
    Plan,
    execute,
    observe,
    tag_calls,
)
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem, Waiting
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.objects import RETRY_ANNOTATION, KubeObject
from sagemaker_operator.reconcile.ownership import ADOPT_ANNOTATION, Custody, as_aws_tags
from sagemaker_operator.status import EventRecord, Outcome, State

NO_SCALING = "none"


@dataclass(frozen=True)
class LiveKind:
    """How one live SageMaker resource type is called and reported."""

    noun: str  # "endpoint", "inference component"
    name_member: str  # EndpointName
    arn_member: str  # EndpointArn
    status_member: str  # EndpointStatus
    describe: str  # Describe API name
    create: str  # Create API name
    delete: str  # Delete API name
    arn_field: str  # status field holding the ARN the object knows as its own
    status_field: str  # status field holding SageMaker's status
    failed_field: str  # status field remembering what failed, cleared when a retry acts
    busy_states: frozenset[str]  # AWS is working: wait
    unscale_before: frozenset[str]  # calls SageMaker refuses (or makes moot) while the resource is scaled

    def describe_call(self, name: str) -> Call:
        """The Describe call of resource ``name`` (read-only)."""
        return Call(self.describe, {self.name_member: name})


ENDPOINT_RESOURCE = LiveKind(
    "endpoint", "EndpointName", "EndpointArn", "EndpointStatus", "DescribeEndpoint", "CreateEndpoint",
    "DeleteEndpoint", "endpointArn", "endpointStatus", "failedEndpointConfigName",
    busy_states=frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}),
    # SageMaker refuses some updates of scaled variants; the targets are registered again afterwards.
    unscale_before=frozenset({"UpdateEndpoint"}))
COMPONENT_RESOURCE = LiveKind(
    "inference component", "InferenceComponentName", "InferenceComponentArn", "InferenceComponentStatus",
    "DescribeInferenceComponent", "CreateInferenceComponent", "DeleteInferenceComponent", "inferenceComponentArn",
    "inferenceComponentStatus", "failedSpecificationDigest",
    busy_states=frozenset({"Creating", "Updating", "Deleting"}),
    unscale_before=frozenset({"DeleteInferenceComponent"}))


@dataclass(frozen=True)
class LiveFacts:
    """What was observed in AWS for one resource: the resource (None: it does not exist), and on demand its tags
    and the scaling policies of its targets (None: not looked at)."""

    resource: Mapping[str, Any] | None
    tags: Mapping[str, str] | None = None
    policies: Mapping[str, Sequence[str]] | None = None


@dataclass(frozen=True)
class LiveMemory:
    """What earlier passes left in status, as every live kind's decision table reads it."""

    known_arn: str | None = None
    # Set while the operator itself deletes a failed resource to create it again: its absence is no drift.
    recreating: bool = False
    deployment: Mapping[str, Any] | None = None  # the last change started, and how it ended
    retry_requested: bool = False


@dataclass(frozen=True)
class TableResult:
    """What a kind's decision table concludes, before the shared step adds ownership, autoscaling and tags."""

    state: State
    reason: str
    message: str
    poll: bool = False  # AWS is (or will be) working: look again soon
    deployment: Mapping[str, Any] | None = None
    events: tuple[EventRecord, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What a kind's decision table concludes: at most one call on the resource itself, and its status fields."""

    state: State
    reason: str
    message: str
    call: Call | None = None
    poll: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()


@dataclass(frozen=True)
class Scaling:
    """The autoscaling the spec asks for, and what status says is registered."""

    targets: tuple[autoscaling.ScalingTarget, ...]
    context: str  # what the targets apply to (the endpoint's config, the component's specification)
    recorded: Mapping[str, Any] | None  # status.autoscaling

    @property
    def wanted_digest(self) -> str:
        """The digest status records once the targets are applied (``none`` without autoscaling)."""
        return autoscaling.digest(self.targets, self.context) if self.targets else NO_SCALING

    @property
    def applied(self) -> bool:
        """Whether status says the wanted scaling is registered."""
        return bool((self.recorded or {}).get("digest", NO_SCALING) == self.wanted_digest)


def retry_value(obj: KubeObject) -> str | None:
    """The retry annotation's value when it asks for a retry not yet acted on, else None."""
    retry = obj.annotations.get(RETRY_ANNOTATION)
    return retry if retry and retry != obj.status.get("observedRetry") else None


def plan_live(kind: LiveKind, name: str, facts: LiveFacts, custody: Custody, known_arn: str | None,
              decision: Decision, scaling: Scaling, retry: str | None) -> Plan:
    """The whole plan of one pass for a live resource, around its kind's ``decision``. Pure.

    In order: take ownership (a resource not known as ours is touched only if its tags say it is, or the object
    asks to adopt it), unregister autoscaling before the calls that need it gone, the decision's call, register the
    wanted autoscaling once the resource is ready, and put back tags changed outside the operator.
    """
    resource = facts.resource
    calls: list[Call] = []
    events = list(decision.events)
    compare_tags, tags_set = custody.compare_tags, False
    if resource is not None and resource.get(kind.arn_member) != known_arn:
        arn = str(resource.get(kind.arn_member))
        if facts.tags is None:
            return Plan.needs(Need(TAGS, arn=arn))
        if not custody.owner.owns(dict(facts.tags)):
            if not custody.adopt:
                return Plan(State.DEGRADED, "NotOwned",
                            f"{kind.noun} {name} already exists and {custody.owner.describe_foreign(dict(facts.tags))};"
                            f" it is left untouched. Set the annotation {ADOPT_ANNOTATION}: \"true\" to take it over")
            events.append(EventRecord("Adopted", f"Took over existing {kind.noun} {name}", warning=True))
        calls += tag_calls(arn, facts.tags, custody.tags)
        compare_tags, tags_set = False, True
    # A resource that is gone took its scalable targets with it (SageMaker deregisters them): once it exists again,
    # they are registered again.
    scaling = scaling if resource is not None else replace(scaling, recorded=None)
    scaling_status: Mapping[str, Any] | None = scaling.recorded
    recorded = list((scaling.recorded or {}).get("targets") or [])
    call = decision.call
    if call is not None:
        if call.api in kind.unscale_before and recorded:
            calls += autoscaling.removal_calls(recorded)
            scaling_status = None
        if call.api == kind.create:
            call = replace(call, request={**call.request, "Tags": as_aws_tags(dict(custody.tags))})
            tags_set = True
        calls.append(call)
    elif decision.state is State.READY and not scaling.applied:
        if scaling.targets and facts.policies is None:
            return Plan.needs(Need(SCALING_POLICIES, targets=tuple((t.resource_id, t.dimension)
                                                                   for t in scaling.targets)))
        calls += autoscaling.apply_calls(scaling.targets, recorded, facts.policies or {})
        scaling_status = {"digest": scaling.wanted_digest, "targets": [t.as_status() for t in scaling.targets]} \
            if scaling.targets else None
        if scaling.targets:
            events.append(EventRecord("AutoscalingApplied", "Registered scalable targets for "
                                      + ", ".join(t.label for t in scaling.targets)))
    if compare_tags and resource is not None and call is None and resource.get(kind.status_member) != "Failed":
        arn = str(resource.get(kind.arn_member))
        if facts.tags is None:
            return Plan.needs(Need(TAGS, arn=arn))
        restore = tag_calls(arn, facts.tags, custody.tags)
        calls += restore
        tags_set = True
        if restore and custody.spec_unchanged and custody.tags_recorded:
            events.append(EventRecord("DriftCorrected", f"Tags of {kind.noun} {name} were changed outside the "
                                                        "operator: restored", warning=True))
    fields = {**decision.fields, "autoscaling": dict(scaling_status) if scaling_status else None}
    if tags_set:
        fields["tagsDigest"] = custody.digest
    if retry is not None and not (decision.poll and call is None):
        # Consumed: by the call it caused, or as moot when there was nothing to retry (not while AWS is busy).
        fields["observedRetry"] = retry
        if call is not None:
            fields[kind.failed_field] = None
    return Plan(decision.state, decision.reason, decision.message, calls=tuple(calls), poll=decision.poll,
                fields=fields, events=tuple(events))


D = TypeVar("D")


class LiveResource(abc.ABC, Generic[D]):
    """What one live kind contributes to the shared step."""

    kind: LiveKind

    @abc.abstractmethod
    def resolve(self, ctx: ReconcileContext, obj: KubeObject) -> D:
        """The desired state with references resolved; raises SpecProblem/SpecError or :class:`Waiting`."""

    @abc.abstractmethod
    def name(self, desired: D) -> str:
        """The AWS name of the resource."""

    @abc.abstractmethod
    def converged(self, obj: KubeObject, desired: D) -> tuple[bool, str]:
        """Whether status alone says AWS matches ``desired`` (no AWS call needed), and the Ready message."""

    @abc.abstractmethod
    def decide(self, obj: KubeObject, desired: D, resource: Mapping[str, Any] | None) -> Decision:
        """The kind's decision table: pure."""

    @abc.abstractmethod
    def scaling(self, obj: KubeObject, desired: D) -> Scaling:
        """The autoscaling the spec asks for."""

    def where_fields(self, ctx: ReconcileContext, target: AwsTarget, desired: D) -> Mapping[str, Any]:
        """Status fields that depend on where the resource lives rather than on the plan (an endpoint's URL)."""
        return {}

    def plan(self, obj: KubeObject, desired: D, facts: LiveFacts, custody: Custody) -> Plan:
        """The plan of one pass, from what was observed. Pure."""
        return plan_live(self.kind, self.name(desired), facts, custody, obj.status.get(self.kind.arn_field) or None,
                         self.decide(obj, desired, facts.resource), self.scaling(obj, desired), retry_value(obj))


async def plan_pass(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, live: LiveResource[D], desired: D,
                    custody: Custody, *, look: bool = True) -> Plan:
    """Observe the resource (one Describe, then only what the planner asks for) and plan. Read-only.

    ``look=False``: the resource is taken to be missing without a Describe (see :func:`creates_first`).
    """
    gateway = ctx.gateway
    describe = live.kind.describe_call(live.name(desired))
    facts = LiveFacts(resource=await gateway.describe(target, describe.operation, **describe.request) if look
                      else None)
    while True:
        plan = live.plan(obj, desired, facts, custody)
        if plan.need is None:
            return plan
        seen = await observe(gateway, target, plan.need)
        facts = replace(facts, **{"tags" if plan.need.what == TAGS else "policies": seen})


def creates_first(kind: LiveKind, obj: KubeObject, inherited: bool) -> bool:
    """Whether a pass may create the resource without describing it first: the operator never reported on this
    object (no condition, no resource in status), and this process saw it appear (a new leader's inherited objects
    may have been created by its predecessor a moment before it stopped). A name taken after all is answered as for
    models: the Create fails as already existing, and the pass describes and plans again; from then on status says
    why (NotOwned), and later passes look first."""
    status = obj.status
    return not inherited and not status.get("conditions") and not status.get(kind.arn_field) \
        and not status.get(kind.status_field)


async def reconcile_live(ctx: ReconcileContext, obj: KubeObject, live: LiveResource[D]) -> Outcome:
    """One step towards the desired resource: resolve, observe, plan, act, report."""
    try:
        target = await ctx.target(obj)
        desired = live.resolve(ctx, obj)
    except (SpecProblem, SpecError) as problem:
        return ctx.spec_problem_outcome(obj, problem)
    except Waiting as waiting:
        return ctx.waiting_outcome(obj, waiting)
    ref = obj.ref
    spec_changed = obj.status.get("observedGeneration") != obj.generation
    tags_applied = ctx.tags_applied(obj)
    converged, message = live.converged(obj, desired)
    if (not spec_changed and tags_applied and converged and retry_value(obj) is None
            and not ctx.drift_check_due(ref, target)):
        return Outcome.ready("InService", message, requeue_after=ctx.seconds_until_drift_check(ref, target))
    name = live.name(desired)
    look = not creates_first(live.kind, obj, ctx.first_pass(ref))
    try:
        custody = ctx.custody(obj, compare_tags=ctx.checked(ref, target) or spec_changed or not tags_applied)
        while True:
            plan = await plan_pass(ctx, target, obj, live, desired, custody, look=look)
            try:
                answers = await execute(ctx.gateway, target, plan.calls)
                break
            except AlreadyExists as clash:
                if look:
                    raise clash.failure from None
                look = True  # someone else's, or ours from before: described, and planned again
        extra = live.where_fields(ctx, target, desired)
    except AwsFailure as failure:
        return failure_outcome(failure, f"reconciling {live.kind.noun} {name}")
    fields = {"region": target.region, **extra, **plan.fields}
    for call, answer in zip(plan.calls, answers, strict=True):
        if call.api == live.kind.create and answer.get(live.kind.arn_member):
            # Known as ours from now on: the next pass needs no ListTags to check ownership.
            fields[live.kind.arn_field] = answer[live.kind.arn_member]
    return outcome_of(ctx, obj, target, plan, fields)


def outcome_of(ctx: ReconcileContext, obj: KubeObject, target: AwsTarget, plan: Plan, fields: Mapping[str, Any]
               ) -> Outcome:
    """The outcome of an executed plan, with when to look again: soon while AWS works, at the next drift check
    when Ready."""
    if plan.poll:
        requeue: float | None = ctx.next_poll(obj.ref)
    else:
        ctx.stop_polling(obj.ref)
        requeue = ctx.seconds_until_drift_check(obj.ref, target) if plan.state is State.READY else None
    return Outcome(plan.state, plan.reason, plan.message, fields=dict(fields), events=list(plan.events),
                   requeue_after=requeue)


async def delete_live(ctx: ReconcileContext, obj: KubeObject, resource: LiveKind, name: str) -> Outcome:
    """One step of deleting the AWS resource ``name`` of ``obj``: finalized once it is gone (or not ours)."""
    if obj.spec.get("deletionPolicy") == "Retain":
        return Outcome.progressing("Retained", f"deletionPolicy is Retain: the AWS {resource.noun} is kept",
                                   finalized=True)
    target = await ctx.deletion_step_target(obj)
    if isinstance(target, Outcome):
        return target
    gateway = ctx.gateway
    try:
        describe = resource.describe_call(name)
        observed = await gateway.describe(target, describe.operation, **describe.request)
        if observed is None:
            ctx.forget(obj.ref)
            return Outcome.progressing("Deleted", f"{resource.noun} {name} is deleted", finalized=True,
                                       events=[EventRecord("Deleted", f"Deleted {resource.noun} {name}")])
        arn = str(observed.get(resource.arn_member))
        if arn != obj.status.get(resource.arn_field) and not ctx.owner(obj).owns(await gateway.list_tags(target, arn)):
            return Outcome.progressing("NotOwned", f"{resource.noun} {name} is not ours: left untouched",
                                       finalized=True)
        if observed.get(resource.status_member) != "Deleting":
            recorded = (obj.status.get("autoscaling") or {}).get("targets") or []
            await execute(gateway, target, [*autoscaling.removal_calls(recorded),
                                            Call(resource.delete, {resource.name_member: name}, missing_ok=True)])
    except AwsFailure as failure:
        if failure.kind.retryable or failure.kind is FailureKind.INVALID:
            # e.g. AWS refuses to delete while an update is finishing: wait and try again.
            return Outcome.progressing("Deleting", f"deleting {resource.noun} {name}: {failure}",
                                       requeue_after=ctx.next_poll(obj.ref))
        return failure_outcome(failure, f"deleting {resource.noun} {name}")
    return Outcome.progressing("Deleting", f"waiting for {resource.noun} {name} to be deleted",
                               fields={resource.status_field: "Deleting"}, requeue_after=ctx.next_poll(obj.ref))
