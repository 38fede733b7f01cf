"""SageMakerEndpoint: where an endpoint update is decided (:func:`plan_endpoint`, pure) and carried out.

The decision table, for an endpoint that exists and is ours:

- Creating, Updating, SystemUpdating, RollingBack, Deleting: wait, polling with a backoff.
- InService on the desired config: done, unless the variant weights or instance counts differ from the spec, which
  UpdateEndpointWeightsAndCapacities fixes in place (no new fleet, no new config).
- InService on another config: UpdateEndpoint (blue/green or rolling per ``deploymentConfig``), unless the last
  update to exactly this config failed: then Degraded, and no retry until the spec changes or the retry annotation
  is set. An update that ends InService on the old config has failed (AWS rolled it back).
- Failed (the create failed): Degraded; a new desired config deletes it so that it can be created again.
- UpdateRollbackFailed, OutOfService: Degraded with AWS's reason.
- Missing: create it (if it existed before, that is drift: it was deleted outside the operator).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sagemaker_operator.api import kinds, rules
from sagemaker_operator.api.status_models import EndpointStatus, parse
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.reconcile import autoscaling
from sagemaker_operator.reconcile.actions import Call
from sagemaker_operator.reconcile.context import MissingReference, ReconcileContext, SpecProblem, Waiting, settling
from sagemaker_operator.reconcile.drift import aws_time
from sagemaker_operator.reconcile.endpoint_config import (
    VariantTarget,
    render_config,
    resolve_model_names,
)
from sagemaker_operator.reconcile.live import (
    ENDPOINT_RESOURCE,
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
from sagemaker_operator.reconcile.model import WaitingForModel, is_ready
from sagemaker_operator.reconcile.naming import valid_aws_name
from sagemaker_operator.reconcile.objects import ENDPOINT_CONFIG, RETRY_ANNOTATION, KubeObject, ObjectRef
from sagemaker_operator.status import EventRecord, Outcome, State

BUSY_STATES = ENDPOINT_RESOURCE.busy_states
WEIGHT_TOLERANCE = 1e-6


class ActionKind(enum.Enum):
    """What the plan asks the AWS layer to do."""

    CREATE = "CreateEndpoint"
    UPDATE = "UpdateEndpoint"
    UPDATE_WEIGHTS = "UpdateEndpointWeightsAndCapacities"
    DELETE = "DeleteEndpoint"


@dataclass(frozen=True)
class EndpointDesired:
    """What the spec asks for, with references resolved to AWS names."""

    endpoint_name: str
    config_name: str
    # Desired weight and count per variant, when the config is a SageMakerEndpointConfig (None: a literal name).
    variants: tuple[VariantTarget, ...] | None
    update_options: Mapping[str, Any]
    create_options: Mapping[str, Any]
    scaling: tuple[autoscaling.ScalingTarget, ...] = ()

    @property
    def scaling_digest(self) -> str:
        """Digest of the scaling to apply on the desired config (see :func:`autoscaling.digest`)."""
        return autoscaling.digest(self.scaling, self.config_name)


@dataclass(frozen=True)
class EndpointMemory(LiveMemory):
    """What the operator remembers between reconciles (kept in status)."""

    failed_config: str | None = None  # the config whose deployment failed: not retried until asked


@dataclass(frozen=True)
class Action:
    """One AWS call to make, with its request."""

    kind: ActionKind
    request: Mapping[str, Any]


@dataclass(frozen=True)
class EndpointPlan(TableResult):
    """The decision: at most one action, the state to report, and what to remember."""

    action: Action | None = None
    failed_config: str | None = None


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _weights_drift(variants: Sequence[VariantTarget], observed: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The DesiredWeightsAndCapacities entries needed to bring ``observed`` variants to ``variants``."""
    by_name = {str(v.get("VariantName")): v for v in observed}
    changes = []
    for wanted in variants:
        seen = by_name.get(wanted.variant_name)
        if seen is None:
            continue
        change: dict[str, Any] = {}
        current_weight = seen.get("DesiredWeight", seen.get("CurrentWeight"))
        if wanted.weight is not None and (current_weight is None
                                          or abs(float(current_weight) - float(wanted.weight)) > WEIGHT_TOLERANCE):
            change["DesiredWeight"] = float(wanted.weight)
        current_count = seen.get("DesiredInstanceCount", seen.get("CurrentInstanceCount"))
        if (wanted.instance_count is not None and current_count is not None
                and int(current_count) != wanted.instance_count):
            change["DesiredInstanceCount"] = int(wanted.instance_count)
        if change:
            changes.append({"VariantName": wanted.variant_name, **change})
    return changes


def plan_endpoint(desired: EndpointDesired, observed: Mapping[str, Any] | None, memory: EndpointMemory,
                  now: str | None = None) -> EndpointPlan:
    """Decide the next step for one endpoint from desired and observed state. Pure: no I/O."""
    timestamp = now or _now_iso()
    name = desired.endpoint_name
    if observed is None:
        create = Action(ActionKind.CREATE, {"EndpointName": name, "EndpointConfigName": desired.config_name,
                                            **desired.create_options})
        started = _started(desired.config_name, None, timestamp)
        if memory.known_arn and not memory.recreating:
            return EndpointPlan(State.PROGRESSING, "Recreating",
                                f"endpoint {name} was deleted outside the operator; creating it again",
                                action=create, poll=True, deployment=started,
                                events=(EventRecord("DriftCorrected",
                                                    f"Endpoint {name} was deleted outside the operator: recreating",
                                                    warning=True),))
        return EndpointPlan(State.PROGRESSING, "Creating",
                            f"creating endpoint {name} with config {desired.config_name}", action=create, poll=True,
                            deployment=started)

    status = str(observed.get("EndpointStatus", ""))
    current = str(observed.get("EndpointConfigName", ""))
    reason = str(observed.get("FailureReason") or "")
    deployment = dict(memory.deployment) if memory.deployment else None
    in_flight = bool(deployment and deployment.get("outcome") == "InProgress")
    retry = memory.retry_requested

    if status in BUSY_STATES:
        return EndpointPlan(State.PROGRESSING, status, f"endpoint {name} is {status}", poll=True,
                            failed_config=memory.failed_config, deployment=deployment)

    if status == "Failed":
        if retry or current != desired.config_name:
            return EndpointPlan(State.PROGRESSING, "Recreating",
                                f"deleting failed endpoint {name} to create it again with {desired.config_name}",
                                action=Action(ActionKind.DELETE, {"EndpointName": name}), poll=True,
                                deployment=_finished(deployment, "Failed", timestamp) if in_flight else deployment)
        first_report = in_flight or memory.failed_config is None
        return EndpointPlan(State.DEGRADED, "CreateFailed",
                            f"endpoint {name} failed to create: {reason or 'no reason given'}; change the spec or "
                            f"set the annotation {RETRY_ANNOTATION} to try again",
                            failed_config=current,
                            deployment=_finished(deployment, "Failed", timestamp) if in_flight else deployment,
                            events=(EventRecord("CreateFailed", f"Endpoint {name} failed: {reason}", warning=True),)
                            if first_report else ())

    if status in ("UpdateRollbackFailed", "OutOfService"):
        if retry or (memory.failed_config and memory.failed_config != desired.config_name):
            return _update(desired, current, timestamp)
        first_report = in_flight or memory.failed_config is None
        return EndpointPlan(State.DEGRADED, status, f"endpoint {name} is {status}: {reason or 'no reason given'}",
                            failed_config=memory.failed_config or desired.config_name,
                            deployment=_finished(deployment, "Failed", timestamp) if in_flight else deployment,
                            events=(EventRecord(status, f"Endpoint {name} is {status}: {reason}", warning=True),)
                            if first_report else ())

    if current == desired.config_name:
        done = _finished(deployment, "Succeeded", timestamp) if in_flight else deployment
        events: tuple[EventRecord, ...] = ()
        if in_flight and deployment and deployment.get("fromEndpointConfigName"):
            events = (EventRecord("UpdateSucceeded", f"Endpoint {name} now runs config {current}"),)
        if desired.variants is not None:
            changes = _weights_drift(desired.variants, observed.get("ProductionVariants") or [])
            if changes:
                return EndpointPlan(
                    State.PROGRESSING, "UpdatingWeights",
                    f"setting variant weights and instance counts of {name} in place",
                    action=Action(ActionKind.UPDATE_WEIGHTS,
                                  {"EndpointName": name, "DesiredWeightsAndCapacities": changes}),
                    poll=True, deployment=done, events=events)
        return EndpointPlan(State.READY, "InService", f"endpoint {name} is InService on config {current}",
                            deployment=done, events=events)

    # InService on another config than desired.
    if in_flight and deployment and deployment.get("endpointConfigName") == desired.config_name:
        why = reason or "the update was rolled back"
        return EndpointPlan(State.DEGRADED, "UpdateFailed",
                            f"update of endpoint {name} to config {desired.config_name} failed: {why}; it still "
                            f"serves config {current}. Change the spec or set the annotation {RETRY_ANNOTATION}",
                            failed_config=desired.config_name, deployment=_finished(deployment, "Failed", timestamp),
                            events=(EventRecord("UpdateFailed", f"Update of {name} failed: {why}", warning=True),))
    if memory.failed_config == desired.config_name and not retry:
        return EndpointPlan(State.DEGRADED, "UpdateFailed",
                            f"the last update of endpoint {name} to config {desired.config_name} failed"
                            f"{': ' + reason if reason else ''}; it serves config {current}. Change the spec or set "
                            f"the annotation {RETRY_ANNOTATION} to try again",
                            failed_config=memory.failed_config, deployment=deployment)
    drifted = bool(deployment and deployment.get("outcome") == "Succeeded"
                   and deployment.get("endpointConfigName") == desired.config_name)
    plan = _update(desired, current, timestamp)
    if drifted:
        return replace(plan, events=(EventRecord(
            "DriftCorrected", f"Endpoint {name} was switched to config {current} outside the operator: switching "
                              f"back to {desired.config_name}", warning=True),))
    return plan


def _started(config_name: str, from_config: str | None, timestamp: str) -> dict[str, Any]:
    deployment = {"endpointConfigName": config_name, "startedAt": timestamp, "outcome": "InProgress"}
    if from_config:
        deployment["fromEndpointConfigName"] = from_config
    return deployment


def _update(desired: EndpointDesired, current: str, timestamp: str) -> EndpointPlan:
    """UpdateEndpoint to the desired config, with the spec's deployment options."""
    name = desired.endpoint_name
    action = Action(ActionKind.UPDATE, {"EndpointName": name, "EndpointConfigName": desired.config_name,
                                        **desired.update_options})
    return EndpointPlan(State.PROGRESSING, "Updating", f"updating endpoint {name} to config {desired.config_name}",
                        action=action, poll=True, deployment=_started(desired.config_name, current, timestamp),
                        events=(EventRecord("UpdateStarted", f"Updating endpoint {name} from config {current} to "
                                                             f"{desired.config_name}"),))


def _finished(deployment: Mapping[str, Any] | None, outcome: str, timestamp: str) -> dict[str, Any] | None:
    if deployment is None:
        return None
    return {**deployment, "outcome": outcome, "finishedAt": timestamp}


def runtime_url(gateway_endpoint_url: str, endpoint_name: str) -> str:
    """The InvokeEndpoint URL of an endpoint, given the SageMaker Runtime service URL of its region."""
    return f"{gateway_endpoint_url.rstrip('/')}/endpoints/{endpoint_name}/invocations"




class WaitingForConfig(Waiting):
    """The referenced SageMakerEndpointConfig is not Ready yet."""

    reason = "WaitingForConfig"


def endpoint_name_of(obj: KubeObject) -> str:
    """The AWS endpoint name a SageMakerEndpoint asks for: spec.endpointName, else metadata.name."""
    return rules.ENDPOINT_NAME.of(obj.spec, obj.name)


def resolve_endpoint(ctx: ReconcileContext, obj: KubeObject) -> EndpointDesired:
    """The endpoint's desired state with references resolved; raises SpecProblem or WaitingForConfig."""
    spec = obj.spec
    name = endpoint_name_of(obj)
    if not valid_aws_name(name):
        where = "spec.endpointName" if spec.get("endpointName") else "metadata.name (set spec.endpointName)"
        raise SpecProblem(f"{where}: {name!r} is not a valid SageMaker endpoint name: up to 63 letters, digits "
                          "and hyphens, starting and ending with a letter or digit")
    recorded = obj.status.get("endpointName")
    if recorded and recorded != name:
        raise SpecProblem(rules.ENDPOINT_NAME.problem(str(recorded), name))
    region = str(spec.get("region") or ctx.settings.default_region or "")
    rivals = [e for e in ctx.store.endpoints_claiming(region, name, ctx.settings.default_region or "")
              if e.ref != obj.ref and not e.deleting]
    first = min([obj, *rivals], key=lambda e: (e.created, e.namespace, e.name))
    if first is not obj:
        where = "spec.endpointName" if spec.get("endpointName") else "metadata.name (the default endpoint name)"
        raise SpecProblem(f"{where}: endpoint name {name!r} is already claimed by SageMakerEndpoint "
                          f"{first.namespace}/{first.name}; set another spec.endpointName")
    ref_name = (spec.get("endpointConfigRef") or {}).get("name")
    literal = spec.get("endpointConfigName")
    if bool(ref_name) == bool(literal):
        raise SpecProblem("spec: set exactly one of endpointConfigRef and endpointConfigName")
    variants: tuple[VariantTarget, ...] | None = None
    if ref_name:
        config = ctx.store.get(ObjectRef(ENDPOINT_CONFIG, obj.namespace, str(ref_name)))
        if config is None:
            raise MissingReference(f"spec.endpointConfigRef.name: SageMakerEndpointConfig {ref_name!r} does not exist "
                              f"in namespace {obj.namespace!r}")
        if config.deleting:
            raise SpecProblem(f"spec.endpointConfigRef.name: SageMakerEndpointConfig {ref_name!r} is being deleted")
        if not is_ready(config) or not config.status.get("endpointConfigName"):
            raise WaitingForConfig(f"waiting for SageMakerEndpointConfig {ref_name!r} to be Ready",
                                   settling=settling(config))
        config_name = str(config.status["endpointConfigName"])
        try:
            variants = render_config(config, ctx.settings.cluster_id, resolve_model_names(ctx, config)).variants
        except (SpecProblem, WaitingForModel) as problem:
            raise WaitingForConfig(f"SageMakerEndpointConfig {ref_name!r}: {problem}",
                                   settling=isinstance(problem, Waiting) and problem.settling) from None
    else:
        config_name = str(literal)
    scaling = autoscaling.endpoint_targets(name, spec.get("autoscaling") or [],
                                           [v.variant_name for v in variants] if variants is not None else None)
    scaled = {t.label for t in scaling}
    if variants is not None:
        # The autoscaler owns these instance counts: the operator never sets them.
        variants = tuple(replace(v, instance_count=None) if v.variant_name in scaled else v for v in variants)
    # The names are resolved above; the rest of UpdateEndpoint's members are the update options.
    update_options = {k: v for k, v in kinds.ENDPOINT.request(spec, "UpdateEndpoint").items()
                      if k not in ("EndpointName", "EndpointConfigName")}
    if scaled and "RetainAllVariantProperties" not in update_options:
        # Keep the scaled-out instance counts across a config change; weights and data capture come from the config.
        update_options["RetainAllVariantProperties"] = True
        update_options["ExcludeRetainedVariantProperties"] = [
            {"VariantPropertyType": "DesiredWeight"}, {"VariantPropertyType": "DataCaptureConfig"}]
    create_options = {"DeploymentConfig": update_options["DeploymentConfig"]} \
        if "DeploymentConfig" in update_options else {}
    return EndpointDesired(endpoint_name=name, config_name=config_name, variants=variants,
                           update_options=update_options, create_options=create_options, scaling=tuple(scaling))


def memory_of(obj: KubeObject) -> EndpointMemory:
    """What the last reconciles left in status."""
    status = parse(EndpointStatus, obj.status)
    deployment = status.last_deployment
    return EndpointMemory(
        known_arn=status.endpoint_arn or None,
        recreating=bool(status.recreating),
        failed_config=status.failed_endpoint_config_name or None,
        deployment=deployment.model_dump(by_alias=True, exclude_none=True) if deployment else None,
        retry_requested=retry_value(obj) is not None,
    )


def _variants_status(observed: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = (("VariantName", "variantName"), ("CurrentWeight", "currentWeight"), ("DesiredWeight", "desiredWeight"),
            ("CurrentInstanceCount", "currentInstanceCount"), ("DesiredInstanceCount", "desiredInstanceCount"),
            ("VariantStatus", "variantStatus"))
    rows = []
    for variant in observed.get("ProductionVariants") or []:
        row = {camel: variant[aws] for aws, camel in keys if variant.get(aws) is not None}
        if isinstance(row.get("variantStatus"), list):
            row["variantStatus"] = [str(s.get("Status")) for s in row["variantStatus"]]
        rows.append(row)
    return rows


def _status_variants_as_aws(status: EndpointStatus) -> list[dict[str, Any]]:
    # Absent values stay absent (not None), so that the comparison falls back from desired to current.
    return [{aws: value for aws, value in (("VariantName", v.variant_name), ("DesiredWeight", v.desired_weight),
                                           ("CurrentWeight", v.current_weight),
                                           ("DesiredInstanceCount", v.desired_instance_count),
                                           ("CurrentInstanceCount", v.current_instance_count)) if value is not None}
            for v in status.production_variants or []]


def converged(obj: KubeObject, desired: EndpointDesired, memory: EndpointMemory) -> bool:
    """Whether status already says AWS matches ``desired``, so no AWS call is needed before the drift check."""
    status = parse(EndpointStatus, obj.status)
    if not (status.ready_for(obj.generation) and status.endpoint_name == desired.endpoint_name
            and status.current_endpoint_config_name == desired.config_name and not memory.retry_requested):
        return False
    recorded = status.autoscaling.digest if status.autoscaling else NO_SCALING
    if recorded != (desired.scaling_digest if desired.scaling else NO_SCALING):
        return False
    return desired.variants is None or not _weights_drift(desired.variants, _status_variants_as_aws(status))


class EndpointLive(LiveResource[EndpointDesired]):
    """SageMakerEndpoint's part of the shared live-resource step: its decision table is :func:`plan_endpoint`."""

    kind = ENDPOINT_RESOURCE

    def resolve(self, ctx: ReconcileContext, obj: KubeObject) -> EndpointDesired:
        return resolve_endpoint(ctx, obj)

    def name(self, desired: EndpointDesired) -> str:
        return desired.endpoint_name

    def converged(self, obj: KubeObject, desired: EndpointDesired) -> tuple[bool, str]:
        return (converged(obj, desired, memory_of(obj)),
                f"endpoint {desired.endpoint_name} is InService on config {desired.config_name}")

    def scaling(self, obj: KubeObject, desired: EndpointDesired) -> Scaling:
        return Scaling(desired.scaling, desired.config_name, obj.status.get("autoscaling"))

    def where_fields(self, ctx: ReconcileContext, target: AwsTarget, desired: EndpointDesired) -> Mapping[str, Any]:
        return {"endpointUrl": runtime_url(ctx.gateway.service_url(target, "sagemaker-runtime"),
                                           desired.endpoint_name)}

    def decide(self, obj: KubeObject, desired: EndpointDesired, resource: Mapping[str, Any] | None) -> Decision:
        plan = plan_endpoint(desired, resource, memory_of(obj))
        return Decision(plan.state, plan.reason, plan.message, call=action_call(plan.action), poll=plan.poll,
                        fields=endpoint_fields(desired, resource, plan), events=plan.events)


def action_call(action: Action | None) -> Call | None:
    """The AWS call of an endpoint plan's action."""
    if action is None:
        return None
    return Call(action.kind.value, action.request, missing_ok=action.kind is ActionKind.DELETE)


ENDPOINT_LIVE = EndpointLive()


async def reconcile_endpoint(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """One step towards the desired endpoint (see :mod:`sagemaker_operator.reconcile.live`)."""
    return await reconcile_live(ctx, obj, ENDPOINT_LIVE)


def endpoint_fields(desired: EndpointDesired, observed: Mapping[str, Any] | None, plan: EndpointPlan
                    ) -> dict[str, Any]:
    """The status fields an endpoint plan records. Pure."""
    action_status = {ActionKind.CREATE: "Creating", ActionKind.UPDATE: "Updating",
                     ActionKind.UPDATE_WEIGHTS: "Updating", ActionKind.DELETE: "Deleting"}
    fields: dict[str, Any] = {
        "endpointName": desired.endpoint_name,
        "endpointStatus": action_status[plan.action.kind] if plan.action
        else str((observed or {}).get("EndpointStatus")),
        "desiredEndpointConfigName": desired.config_name,
        "failedEndpointConfigName": plan.failed_config,
        "lastDeployment": dict(plan.deployment) if plan.deployment else None,
        "endpointArn": (observed or {}).get("EndpointArn"),
        "currentEndpointConfigName": (observed or {}).get("EndpointConfigName"),
        "failureReason": (observed or {}).get("FailureReason") or None,
        "lastModifiedTime": aws_time((observed or {}).get("LastModifiedTime")),
        "productionVariants": _variants_status(observed) if observed is not None else None,
    }
    if plan.action is not None:
        fields["recreating"] = True if plan.action.kind is ActionKind.DELETE else None
    return fields


async def finalize_endpoint(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Wait for the endpoint's inference components, then delete the AWS endpoint (if it is ours)."""
    components = ctx.store.components_on_endpoint(obj.namespace, obj.name)
    if components and obj.spec.get("deletionPolicy") != "Retain":
        names = ", ".join(sorted(c.name for c in components))
        return Outcome.progressing("WaitingForDependents", f"waiting for SageMakerInferenceComponent {names} on this "
                                                           "endpoint to be deleted before deleting it")
    return await delete_live(ctx, obj, ENDPOINT_RESOURCE, str(obj.status.get("endpointName") or endpoint_name_of(obj)))
