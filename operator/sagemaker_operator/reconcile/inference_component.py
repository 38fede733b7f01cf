"""SageMakerInferenceComponent: a model hosted on an endpoint with its own resources and copy count.

Decision table (:func:`plan_component`, pure), for a component whose endpoint is InService:

- missing: create it (recreated, with a DriftCorrected event, if it existed before);
- Creating, Updating, Deleting: wait;
- Failed: Degraded; a changed specification (or the retry annotation) deletes it to create it again;
- InService with another specification than the spec: UpdateInferenceComponent (rolling update, auto-rollback as
  ``deploymentConfig`` says), unless the last update to exactly this specification failed;
- InService with another copy count (and no autoscaling): UpdateInferenceComponentRuntimeConfig only;
- otherwise Ready.

The specification applied is recorded as a digest in status: SageMaker describes a component's specification in
another shape than it takes it, so comparing the two field by field would be fragile.
"""

from __future__ import annotations

import copy
import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import kinds, rules
from sagemaker_operator.api.status_models import InferenceComponentStatus, parse
from sagemaker_operator.reconcile import autoscaling
from sagemaker_operator.reconcile.actions import Call
from sagemaker_operator.reconcile.context import MissingReference, ReconcileContext, SpecProblem, Waiting
from sagemaker_operator.reconcile.drift import aws_time
from sagemaker_operator.reconcile.live import (
    COMPONENT_RESOURCE,
    NO_SCALING,
    Decision,
    LiveMemory,
    LiveResource,
    Scaling,
    TableResult,
    delete_live,
    reconcile_live,
    retry_value,
)
from sagemaker_operator.reconcile.model import WaitingForModel, resolved_model_name
from sagemaker_operator.reconcile.naming import content_hash, valid_aws_name
from sagemaker_operator.reconcile.objects import ENDPOINT, RETRY_ANNOTATION, KubeObject, ObjectRef
from sagemaker_operator.status import EventRecord, Outcome, State

BUSY_STATES = COMPONENT_RESOURCE.busy_states


class ComponentAction(enum.Enum):
    """What the component plan asks AWS to do."""

    CREATE = "CreateInferenceComponent"
    UPDATE = "UpdateInferenceComponent"
    UPDATE_RUNTIME = "UpdateInferenceComponentRuntimeConfig"
    DELETE = "DeleteInferenceComponent"


class WaitingForDependency(Waiting):
    """The endpoint or the model is not ready yet."""


@dataclass(frozen=True)
class ComponentDesired:
    """The component the spec asks for, references resolved."""

    name: str
    endpoint_name: str
    create_request: Mapping[str, Any]  # without Tags
    update_request: Mapping[str, Any]  # Specification(s) and DeploymentConfig
    digest: str  # of the specification
    copy_count: int | None  # None: left to the autoscaler (or not given)
    model_names: tuple[str, ...]
    scaling: tuple[autoscaling.ScalingTarget, ...] = ()


@dataclass(frozen=True)
class ComponentMemory(LiveMemory):
    """What earlier reconciles left in status."""

    applied_digest: str | None = None  # the specification AWS runs
    failed_digest: str | None = None  # the specification whose update failed: not retried until asked


@dataclass(frozen=True)
class ComponentPlan(TableResult):
    """The decision for one component."""

    action: ComponentAction | None = None
    applied_digest: str | None = None
    failed_digest: str | None = None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_component(desired: ComponentDesired, observed: Mapping[str, Any] | None, memory: ComponentMemory,
                   now: str | None = None) -> ComponentPlan:
    """Decide the next step for one inference component. Pure: no I/O."""
    timestamp = now or _now()
    name = desired.name
    started = {"specificationDigest": desired.digest, "startedAt": timestamp, "outcome": "InProgress"}
    if observed is None:
        drift = bool(memory.known_arn and not memory.recreating)
        return ComponentPlan(
            State.PROGRESSING, "Recreating" if drift else "Creating",
            f"inference component {name} was deleted outside the operator; creating it again" if drift
            else f"creating inference component {name} on endpoint {desired.endpoint_name}",
            action=ComponentAction.CREATE, poll=True, deployment=started,
            events=(EventRecord("DriftCorrected", f"Inference component {name} was deleted outside the operator: "
                                                  "recreating", warning=True),) if drift else ())
    status = str(observed.get("InferenceComponentStatus", ""))
    reason = str(observed.get("FailureReason") or "")
    deployment = dict(memory.deployment) if memory.deployment else None
    in_flight = bool(deployment and deployment.get("outcome") == "InProgress")

    def finished(outcome: str) -> dict[str, Any] | None:
        return {**deployment, "outcome": outcome, "finishedAt": timestamp} if deployment and in_flight \
            else deployment

    if status in BUSY_STATES:
        return ComponentPlan(State.PROGRESSING, status, f"inference component {name} is {status}", poll=True,
                             applied_digest=memory.applied_digest, failed_digest=memory.failed_digest,
                             deployment=deployment)
    if status == "Failed":
        failed = str(deployment.get("specificationDigest")) if deployment else memory.applied_digest
        if memory.retry_requested or (failed and failed != desired.digest):
            return ComponentPlan(State.PROGRESSING, "Recreating",
                                 f"deleting failed inference component {name} to create it again",
                                 action=ComponentAction.DELETE, poll=True, deployment=finished("Failed"))
        return ComponentPlan(State.DEGRADED, "CreateFailed",
                             f"inference component {name} failed: {reason or 'no reason given'}; change the spec or "
                             f"set the annotation {RETRY_ANNOTATION} to try again",
                             failed_digest=failed, deployment=finished("Failed"),
                             events=(EventRecord("CreateFailed", f"Inference component {name} failed: {reason}",
                                                 warning=True),) if in_flight else ())
    if in_flight and deployment and deployment.get("specificationDigest") == desired.digest and deployment.get(
            "kind") == "Update" and reason:
        return ComponentPlan(State.DEGRADED, "UpdateFailed",
                             f"update of inference component {name} failed: {reason}; it keeps its previous "
                             f"specification. Change the spec or set the annotation {RETRY_ANNOTATION}",
                             applied_digest=memory.applied_digest, failed_digest=desired.digest,
                             deployment=finished("Failed"),
                             events=(EventRecord("UpdateFailed", f"Update of {name} failed: {reason}", warning=True),))
    applied = desired.digest if in_flight and deployment and deployment.get("specificationDigest") == desired.digest \
        else memory.applied_digest
    done = finished("Succeeded")
    events: tuple[EventRecord, ...] = ()
    if in_flight and deployment and deployment.get("kind") == "Update":
        events = (EventRecord("UpdateSucceeded", f"Inference component {name} runs its new specification"),)
    if applied != desired.digest:
        if memory.failed_digest == desired.digest and not memory.retry_requested:
            return ComponentPlan(State.DEGRADED, "UpdateFailed",
                                 f"the last update of inference component {name} to this specification failed; "
                                 f"change the spec or set the annotation {RETRY_ANNOTATION} to try again",
                                 applied_digest=applied, failed_digest=memory.failed_digest, deployment=done)
        return ComponentPlan(State.PROGRESSING, "Updating", f"updating the specification of inference component {name}",
                             action=ComponentAction.UPDATE, poll=True, applied_digest=applied,
                             deployment={**started, "kind": "Update"},
                             events=(EventRecord("UpdateStarted", f"Updating inference component {name}"),))
    copies = (observed.get("RuntimeConfig") or {}).get("DesiredCopyCount")
    if desired.copy_count is not None and copies is not None and int(copies) != desired.copy_count:
        return ComponentPlan(State.PROGRESSING, "UpdatingCopies",
                             f"setting the copy count of inference component {name} to {desired.copy_count}",
                             action=ComponentAction.UPDATE_RUNTIME, poll=True, applied_digest=applied,
                             deployment=done, events=events)
    return ComponentPlan(State.READY, "InService", f"inference component {name} is InService", applied_digest=applied,
                         deployment=done, events=events)


def _resolve_endpoint_name(ctx: ReconcileContext, obj: KubeObject) -> str:
    spec = obj.spec
    ref = (spec.get("endpointRef") or {}).get("name")
    literal = spec.get("endpointName")
    if bool(ref) == bool(literal):
        raise SpecProblem("spec: set exactly one of endpointRef and endpointName")
    if literal:
        return str(literal)
    endpoint = ctx.store.get(ObjectRef(ENDPOINT, obj.namespace, str(ref)))
    if endpoint is None:
        raise MissingReference(f"spec.endpointRef.name: SageMakerEndpoint {ref!r} does not exist in namespace "
                          f"{obj.namespace!r}")
    if endpoint.deleting:
        raise SpecProblem(f"spec.endpointRef.name: SageMakerEndpoint {ref!r} is being deleted")
    if not endpoint.status.get("endpointName") or endpoint.status.get("endpointStatus") not in (
            "InService", "Updating"):
        raise WaitingForDependency(f"waiting for SageMakerEndpoint {ref!r} to be InService")
    return str(endpoint.status["endpointName"])


def _resolve_model(ctx: ReconcileContext, obj: KubeObject, specification: dict[str, Any], path: str) -> str | None:
    ref = (specification.pop("modelRef", None) or {}).get("name")
    if not ref:
        return str(specification["modelName"]) if specification.get("modelName") else None
    if specification.get("modelName"):
        raise SpecProblem(f"{path}: set modelRef or modelName, not both")
    try:
        resolved = resolved_model_name(ctx, obj.namespace, str(ref), f"{path}.modelRef.name")
    except WaitingForModel as waiting:
        raise WaitingForDependency(str(waiting), settling=waiting.settling) from None
    specification["modelName"] = resolved
    return resolved


def component_name_of(obj: KubeObject) -> str:
    """The AWS name of an inference component: spec.inferenceComponentName, else metadata.name."""
    return rules.INFERENCE_COMPONENT_NAME.of(obj.spec, obj.name)


def resolve_component(ctx: ReconcileContext, obj: KubeObject) -> ComponentDesired:
    """The component's desired state with references resolved; raises SpecProblem or WaitingForDependency."""
    name = component_name_of(obj)
    if not valid_aws_name(name):
        raise SpecProblem(f"spec.inferenceComponentName: {name!r} is not a valid SageMaker name: up to 63 letters, "
                          "digits and hyphens")
    recorded = obj.status.get("inferenceComponentName")
    if recorded and recorded != name:
        raise SpecProblem(rules.INFERENCE_COMPONENT_NAME.problem(str(recorded), name))
    spec = copy.deepcopy(dict(obj.spec))
    models = []
    if isinstance(spec.get("specification"), dict):
        models.append(_resolve_model(ctx, obj, spec["specification"], "spec.specification"))
    endpoint_name = _resolve_endpoint_name(ctx, obj)
    spec["endpointName"] = endpoint_name
    create = kinds.INFERENCE_COMPONENT.request(spec, "CreateInferenceComponent",
                                               fill={"InferenceComponentName": name, "EndpointName": endpoint_name})
    update = {k: v for k, v in kinds.INFERENCE_COMPONENT.request(spec, "UpdateInferenceComponent").items()
              if k in ("Specification", "Specifications", "DeploymentConfig")}
    identity = {k: create.get(k) for k in ("Specification", "Specifications", "VariantName", "EndpointName")}
    scaling = autoscaling.component_targets(name, spec.get("autoscaling"))
    copies = (spec.get("runtimeConfig") or {}).get("copyCount")
    return ComponentDesired(
        name=name, endpoint_name=endpoint_name, create_request=create, update_request=update,
        digest=content_hash(identity), copy_count=None if scaling or copies is None else int(copies),
        model_names=tuple(m for m in models if m), scaling=tuple(scaling))


def memory_of(obj: KubeObject) -> ComponentMemory:
    """What the last reconciles left in status."""
    status = parse(InferenceComponentStatus, obj.status)
    deployment = status.last_deployment
    return ComponentMemory(
        known_arn=status.inference_component_arn or None,
        applied_digest=status.specification_digest or None,
        failed_digest=status.failed_specification_digest or None,
        deployment=deployment.model_dump(by_alias=True, exclude_none=True) if deployment else None,
        retry_requested=retry_value(obj) is not None,
        recreating=bool(status.recreating),
    )


def _converged(obj: KubeObject, desired: ComponentDesired, memory: ComponentMemory) -> bool:
    status = parse(InferenceComponentStatus, obj.status)
    scaling = autoscaling.digest(desired.scaling, desired.digest) if desired.scaling else NO_SCALING
    copies = status.runtime_config.desired_copy_count if status.runtime_config else None
    return (status.ready_for(obj.generation) and memory.applied_digest == desired.digest
            and not memory.retry_requested
            and (status.autoscaling.digest if status.autoscaling else NO_SCALING) == scaling
            and (desired.copy_count is None or copies == desired.copy_count))


def component_call(action: ComponentAction | None, desired: ComponentDesired) -> Call | None:
    """The AWS call of a component plan's action."""
    name = {"InferenceComponentName": desired.name}
    if action is ComponentAction.CREATE:
        return Call(action.value, desired.create_request)
    if action is ComponentAction.UPDATE:
        return Call(action.value, {**name, **desired.update_request})
    if action is ComponentAction.UPDATE_RUNTIME:
        return Call(action.value, {**name, "DesiredRuntimeConfig": {"CopyCount": desired.copy_count}})
    if action is ComponentAction.DELETE:
        return Call(action.value, name, missing_ok=True)
    return None


def component_fields(obj: KubeObject, desired: ComponentDesired, observed: Mapping[str, Any] | None,
                     plan: ComponentPlan, memory: ComponentMemory) -> dict[str, Any]:
    """The status fields a component plan records. Pure."""
    runtime = (observed or {}).get("RuntimeConfig") or {}
    busy = {ComponentAction.CREATE: "Creating", ComponentAction.UPDATE: "Updating",
            ComponentAction.UPDATE_RUNTIME: "Updating", ComponentAction.DELETE: "Deleting"}
    return {
        "inferenceComponentName": desired.name,
        "endpointName": desired.endpoint_name,
        "inferenceComponentArn": (observed or {}).get("InferenceComponentArn") or memory.known_arn,
        "inferenceComponentStatus": busy[plan.action] if plan.action
        else (observed or {}).get("InferenceComponentStatus"),
        "failureReason": (observed or {}).get("FailureReason") or None,
        "lastModifiedTime": aws_time((observed or {}).get("LastModifiedTime")),
        "specificationDigest": plan.applied_digest,
        "failedSpecificationDigest": plan.failed_digest,
        "lastDeployment": dict(plan.deployment) if plan.deployment else None,
        "modelNames": list(desired.model_names),
        "runtimeConfig": {"desiredCopyCount": runtime.get("DesiredCopyCount"),
                          "currentCopyCount": runtime.get("CurrentCopyCount")} if runtime else None,
        "recreating": True if plan.action is ComponentAction.DELETE else (
            None if plan.action is ComponentAction.CREATE else obj.status.get("recreating")),
    }


class ComponentLive(LiveResource[ComponentDesired]):
    """SageMakerInferenceComponent's part of the shared live-resource step: its decision table is
    :func:`plan_component`."""

    kind = COMPONENT_RESOURCE

    def resolve(self, ctx: ReconcileContext, obj: KubeObject) -> ComponentDesired:
        return resolve_component(ctx, obj)

    def name(self, desired: ComponentDesired) -> str:
        return desired.name

    def converged(self, obj: KubeObject, desired: ComponentDesired) -> tuple[bool, str]:
        return _converged(obj, desired, memory_of(obj)), f"inference component {desired.name} is InService"

    def scaling(self, obj: KubeObject, desired: ComponentDesired) -> Scaling:
        return Scaling(desired.scaling, desired.digest, obj.status.get("autoscaling"))

    def decide(self, obj: KubeObject, desired: ComponentDesired, resource: Mapping[str, Any] | None) -> Decision:
        memory = memory_of(obj)
        plan = plan_component(desired, resource, memory)
        return Decision(plan.state, plan.reason, plan.message, call=component_call(plan.action, desired),
                        poll=plan.poll, fields=component_fields(obj, desired, resource, plan, memory),
                        events=plan.events)


COMPONENT_LIVE = ComponentLive()


async def reconcile_inference_component(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """One step towards the desired component (see :mod:`sagemaker_operator.reconcile.live`)."""
    return await reconcile_live(ctx, obj, COMPONENT_LIVE)


async def finalize_inference_component(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Deregister its autoscaling, delete the component (if it is ours) and wait until it is gone."""
    return await delete_live(ctx, obj, COMPONENT_RESOURCE,
                             str(obj.status.get("inferenceComponentName") or component_name_of(obj)))
