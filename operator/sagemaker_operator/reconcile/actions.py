"""The vocabulary every plan is written in, and the one executor that carries plans out.

A plan is pure: from the desired state, what was observed in AWS and what status remembers, it decides the ordered
AWS calls to make (:class:`Call`), the state to report and the status fields to record. When it cannot decide
without seeing more of AWS (the tags of a resource it may not own, the scaling policies it is about to replace), it
says so (:class:`Need`) instead of guessing: the caller observes exactly that, read-only, and plans again. The
operator then runs the calls with :func:`execute`; ``kubectl sagemaker plan`` observes the same way and prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.status import EventRecord, State

SAGEMAKER = "sagemaker"


@dataclass(frozen=True)
class Call:
    """One AWS write a plan asks for, named as AWS names it (``CreateEndpoint``), with its request."""

    api: str
    request: Mapping[str, Any]
    service: str = SAGEMAKER
    # Not found counts as done (a delete of something already gone, a deregister SageMaker did itself).
    missing_ok: bool = False

    @property
    def operation(self) -> str:
        """The boto3 method name of the call (``create_endpoint``)."""
        return str(botocore.xform_name(self.api))


@dataclass(frozen=True)
class Need:
    """An observation the planner needs before it can decide; every one is a read-only AWS call."""

    what: str  # TAGS, RESOURCE or SCALING_POLICIES
    arn: str = ""  # for TAGS
    targets: tuple[tuple[str, str], ...] = ()  # for SCALING_POLICIES: (resource id, scalable dimension)


TAGS = "tags"
RESOURCE = "resource"
SCALING_POLICIES = "scaling-policies"


@dataclass(frozen=True)
class Plan:
    """The decision of one pass: the calls to make in order, the state to report and what status records."""

    state: State
    reason: str
    message: str
    calls: tuple[Call, ...] = ()
    poll: bool = False  # AWS is (or will be) working: look again soon
    fields: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    need: Need | None = None

    @classmethod
    def needs(cls, need: Need) -> Plan:
        """No decision yet: observe ``need`` and plan again."""
        return cls(State.PROGRESSING, "Observing", f"observing {need.what}", need=need)


def tag_calls(arn: str, current: Mapping[str, str], desired: Mapping[str, str]) -> tuple[Call, ...]:
    """The DeleteTags and AddTags calls that make the tags of ``arn`` equal ``desired`` (none when they are)."""
    stale = sorted(set(current) - set(desired))
    changed = {k: v for k, v in desired.items() if current.get(k) != v}
    calls = []
    if stale:
        calls.append(Call("DeleteTags", {"ResourceArn": arn, "TagKeys": stale}))
    if changed:
        calls.append(Call("AddTags", {"ResourceArn": arn,
                                      "Tags": [{"Key": k, "Value": v} for k, v in sorted(changed.items())]}))
    return tuple(calls)


class AlreadyExists(Exception):
    """A Create call found its name taken: the caller observes the resource and plans again."""

    def __init__(self, call: Call, failure: AwsFailure) -> None:
        super().__init__(str(failure))
        self.call = call
        self.failure = failure


async def execute(gateway: SageMakerGateway, target: AwsTarget, calls: Sequence[Call]) -> list[dict[str, Any]]:
    """Make the calls in order; the answers, one per call (empty for a missing_ok call that found nothing).

    Raises AwsFailure for the first call AWS refuses, and AlreadyExists for a Create* whose name is taken.
    """
    answers: list[dict[str, Any]] = []
    for call in calls:
        try:
            answers.append(await gateway.call(target, call.operation, service=call.service, **call.request))
        except AwsFailure as failure:
            if call.missing_ok and failure.kind is FailureKind.NOT_FOUND:
                answers.append({})
            elif call.api.startswith("Create") and failure.kind is FailureKind.ALREADY_EXISTS:
                raise AlreadyExists(call, failure) from None
            else:
                raise
    return answers


async def observe(gateway: SageMakerGateway, target: AwsTarget, need: Need, describe: Call | None = None
                  ) -> Any:
    """What ``need`` asks to see: a resource's tags, a resource (``describe``: its Describe call; None when it does
    not exist), or the scaling policies of targets (resource id -> policy names). Read-only."""
    if need.what == TAGS:
        return await gateway.list_tags(target, need.arn)
    if need.what == RESOURCE:
        if describe is None:
            raise ValueError("observing a resource needs its Describe call")
        return await gateway.describe(target, describe.operation, **describe.request)
    if need.what == SCALING_POLICIES:
        policies: dict[str, tuple[str, ...]] = {}
        for resource_id, dimension in need.targets:
            answer = await gateway.call(target, "describe_scaling_policies", service="application-autoscaling",
                                        ServiceNamespace="sagemaker", ResourceId=resource_id,
                                        ScalableDimension=dimension)
            policies[resource_id] = tuple(str(p["PolicyName"]) for p in answer.get("ScalingPolicies", []))
        return policies
    raise ValueError(f"unknown observation {need.what!r}")
