"""Live AWS resources (endpoints, inference components): deleting one on behalf of its object.

Both kinds are deleted the same way: never touch one that is not ours, deregister its autoscaling first, call
Delete once, then wait with the poll backoff until Describe no longer finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.reconcile import autoscaling
from sagemaker_operator.reconcile.context import ReconcileContext
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.status import EventRecord, Outcome


@dataclass(frozen=True)
class LiveKind:
    """How one live SageMaker resource type is called and reported."""

    noun: str  # "endpoint", "inference component"
    name_member: str  # EndpointName
    arn_member: str  # EndpointArn
    status_member: str  # EndpointStatus
    describe: str  # boto3 method names
    delete: str
    arn_field: str  # status field holding the ARN the object knows as its own
    status_field: str  # status field holding SageMaker's status


ENDPOINT_RESOURCE = LiveKind("endpoint", "EndpointName", "EndpointArn", "EndpointStatus", "describe_endpoint",
                             "delete_endpoint", "endpointArn", "endpointStatus")
COMPONENT_RESOURCE = LiveKind("inference component", "InferenceComponentName", "InferenceComponentArn",
                              "InferenceComponentStatus", "describe_inference_component", "delete_inference_component",
                              "inferenceComponentArn", "inferenceComponentStatus")


async def delete_live(ctx: ReconcileContext, obj: KubeObject, resource: LiveKind, name: str) -> Outcome:
    """One step of deleting the AWS resource ``name`` of ``obj``: finalized once it is gone (or not ours)."""
    if obj.spec.get("deletionPolicy") == "Retain":
        return Outcome.progressing("Retained", f"deletionPolicy is Retain: the AWS {resource.noun} is kept",
                                   finalized=True)
    target = await ctx.deletion_step_target(obj)
    if isinstance(target, Outcome):
        return target
    try:
        observed = await ctx.gateway.describe(target, resource.describe, **{resource.name_member: name})
        if observed is None:
            ctx.forget(obj.ref)
            return Outcome.progressing("Deleted", f"{resource.noun} {name} is deleted", finalized=True,
                                       events=[EventRecord("Deleted", f"Deleted {resource.noun} {name}")])
        arn = str(observed.get(resource.arn_member))
        if arn != obj.status.get(resource.arn_field) and not ctx.owner(obj).owns(
                await ctx.gateway.list_tags(target, arn)):
            return Outcome.progressing("NotOwned", f"{resource.noun} {name} is not ours: left untouched",
                                       finalized=True)
        if observed.get(resource.status_member) != "Deleting":
            await autoscaling.remove(ctx, target, (obj.status.get("autoscaling") or {}).get("targets") or [])
            await ctx.gateway.delete(target, resource.delete, **{resource.name_member: name})
    except AwsFailure as failure:
        if failure.kind.retryable or failure.kind is FailureKind.INVALID:
            # e.g. AWS refuses to delete while an update is finishing: wait and try again.
            return Outcome.progressing("Deleting", f"deleting {resource.noun} {name}: {failure}",
                                       requeue_after=ctx.next_poll(obj.ref))
        return failure_outcome(failure, f"deleting {resource.noun} {name}")
    return Outcome.progressing("Deleting", f"waiting for {resource.noun} {name} to be deleted",
                               fields={resource.status_field: "Deleting"}, requeue_after=ctx.next_poll(obj.ref))
