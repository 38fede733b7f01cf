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
from dataclasses import dataclass, field, replace
from typing import Any

from sagemaker_operator.api import kinds, rules
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.reconcile import autoscaling
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.endpoint_config import (
    VariantTarget,
    render_config,
    resolve_model_names,
)
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.live import ENDPOINT_RESOURCE, delete_live
from sagemaker_operator.reconcile.model import WaitingForModel, is_ready
from sagemaker_operator.reconcile.naming import valid_aws_name
from sagemaker_operator.reconcile.objects import ENDPOINT_CONFIG, RETRY_ANNOTATION, KubeObject, ObjectRef
from sagemaker_operator.reconcile.ownership import ADOPT_ANNOTATION, as_aws_tags
from sagemaker_operator.status import EventRecord, Outcome, State

BUSY_STATES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
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
class EndpointMemory:
    """What the operator remembers between reconciles (kept in status)."""

    known_arn: str | None = None
    # Set while the operator itself deletes a failed endpoint to create it again: its absence is no drift.
    recreating: bool = False
    failed_config: str | None = None
    deployment: Mapping[str, Any] | None = None
    retry_requested: bool = False


@dataclass(frozen=True)
class Action:
    """One AWS call to make, with its request."""

    kind: ActionKind
    request: Mapping[str, Any]


@dataclass(frozen=True)
class EndpointPlan:
    """The decision: at most one action, the state to report, and what to remember."""

    state: State
    reason: str
    message: str
    action: Action | None = None
    poll: bool = False
    failed_config: str | None = None
    deployment: Mapping[str, Any] | None = None
    events: tuple[EventRecord, ...] = field(default=())


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


_NO_SCALING = "none"


class WaitingForConfig(Exception):
    """The referenced SageMakerEndpointConfig is not Ready yet."""


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
            raise SpecProblem(f"spec.endpointConfigRef.name: SageMakerEndpointConfig {ref_name!r} does not exist "
                              f"in namespace {obj.namespace!r}")
        if config.deleting:
            raise SpecProblem(f"spec.endpointConfigRef.name: SageMakerEndpointConfig {ref_name!r} is being deleted")
        if not is_ready(config) or not config.status.get("endpointConfigName"):
            raise WaitingForConfig(f"waiting for SageMakerEndpointConfig {ref_name!r} to be Ready")
        config_name = str(config.status["endpointConfigName"])
        try:
            variants = render_config(config, ctx.settings.cluster_id, resolve_model_names(ctx, config)).variants
        except (SpecProblem, WaitingForModel) as problem:
            raise WaitingForConfig(f"SageMakerEndpointConfig {ref_name!r}: {problem}") from None
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
    status = obj.status
    retry = obj.annotations.get(RETRY_ANNOTATION)
    return EndpointMemory(
        known_arn=status.get("endpointArn") or None,
        recreating=bool(status.get("recreating")),
        failed_config=status.get("failedEndpointConfigName") or None,
        deployment=status.get("lastDeployment") or None,
        retry_requested=bool(retry) and retry != status.get("observedRetry"),
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


def _status_variants_as_aws(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = (("VariantName", "variantName"), ("DesiredWeight", "desiredWeight"), ("CurrentWeight", "currentWeight"),
            ("DesiredInstanceCount", "desiredInstanceCount"), ("CurrentInstanceCount", "currentInstanceCount"))
    # Absent values stay absent (not None), so that the comparison falls back from desired to current.
    return [{aws: v[camel] for aws, camel in keys if v.get(camel) is not None}
            for v in status.get("productionVariants") or []]


def converged(obj: KubeObject, desired: EndpointDesired, memory: EndpointMemory) -> bool:
    """Whether status already says AWS matches ``desired``, so no AWS call is needed before the drift check."""
    status = obj.status
    if not (is_ready(obj) and status.get("endpointName") == desired.endpoint_name
            and status.get("currentEndpointConfigName") == desired.config_name and not memory.retry_requested):
        return False
    if (status.get("autoscaling") or {}).get("digest", _NO_SCALING) != (desired.scaling_digest if desired.scaling
                                                                       else _NO_SCALING):
        return False
    return desired.variants is None or not _weights_drift(desired.variants, _status_variants_as_aws(status))


async def reconcile_endpoint(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """One step towards the desired endpoint: observe (one DescribeEndpoint), plan, act, report."""
    try:
        target = await ctx.target(obj)
        desired = resolve_endpoint(ctx, obj)
    except (SpecProblem, SpecError) as problem:
        return Outcome.degraded("InvalidSpec", str(problem))
    except WaitingForConfig as waiting:
        return Outcome.progressing("WaitingForConfig", str(waiting))
    memory = memory_of(obj)
    ref = obj.ref
    spec_changed = obj.status.get("observedGeneration") != obj.generation
    tags_applied = ctx.tags_applied(obj)
    if not spec_changed and tags_applied and converged(obj, desired, memory) and not ctx.drift_check_due(ref):
        return Outcome.ready("InService", f"endpoint {desired.endpoint_name} is InService on config "
                                          f"{desired.config_name}",
                             requeue_after=ctx.seconds_until_drift_check(ref))
    name = desired.endpoint_name
    events: list[EventRecord] = []
    try:
        observed = await ctx.gateway.describe(target, "describe_endpoint", EndpointName=name)
        compare_tags = ctx.checked(ref) or spec_changed or not tags_applied
        tags_set = False  # AWS has ctx.tags(obj) after this pass: recorded as tagsDigest
        if observed is not None and observed.get("EndpointArn") != memory.known_arn:
            # Not known as ours yet: look at its ownership tags before touching it.
            tags = await ctx.gateway.list_tags(target, str(observed["EndpointArn"]))
            owner = ctx.owner(obj)
            if not owner.owns(tags):
                if obj.annotations.get(ADOPT_ANNOTATION) != "true":
                    return Outcome.degraded(
                        "NotOwned", f"endpoint {name} already exists and {owner.describe_foreign(tags)}; it is left "
                                    f"untouched. Set the annotation {ADOPT_ANNOTATION}: \"true\" to take it over")
                events.append(EventRecord("Adopted", f"Took over existing endpoint {name}", warning=True))
            await ctx.gateway.set_tags(target, str(observed["EndpointArn"]), tags, ctx.tags(obj))
            compare_tags, tags_set = False, True
        plan = plan_endpoint(desired, observed, memory)
        recorded = list((obj.status.get("autoscaling") or {}).get("targets") or [])
        scaling_status: dict[str, Any] | None = obj.status.get("autoscaling")
        if plan.action is not None and plan.action.kind is ActionKind.UPDATE and recorded:
            # SageMaker refuses some updates of scaled variants; the targets are registered again afterwards.
            await autoscaling.remove(ctx, target, recorded)
            scaling_status = None
        created_arn: str | None = None
        if plan.action is not None:
            response = await _execute(ctx, target, obj, plan.action)
            created_arn = response.get("EndpointArn") if plan.action.kind is ActionKind.CREATE else None
            tags_set = tags_set or created_arn is not None
        elif plan.state is State.READY:
            wanted = desired.scaling_digest if desired.scaling else _NO_SCALING
            if (scaling_status or {}).get("digest", _NO_SCALING) != wanted:
                applied = await autoscaling.apply(ctx, target, desired.scaling, recorded)
                scaling_status = {"digest": wanted, "targets": applied} if desired.scaling else None
                if desired.scaling:
                    events.append(EventRecord("AutoscalingApplied", "Registered scalable targets for variants "
                                              + ", ".join(t.label for t in desired.scaling)))
        if compare_tags and observed is not None and plan.action is None and observed.get("EndpointStatus") != "Failed":
            events += await ctx.restore_tags(target, obj, str(observed["EndpointArn"]), f"endpoint {name}")
            tags_set = True
        url = runtime_url(ctx.gateway.service_url(target, "sagemaker-runtime"), name)
    except AwsFailure as failure:
        return failure_outcome(failure, f"reconciling endpoint {name}")
    outcome = _outcome(ctx, obj, desired, observed, plan, events, url, memory, target)
    outcome.fields["autoscaling"] = scaling_status
    if tags_set:
        outcome.fields["tagsDigest"] = ctx.tags_digest(obj)
    if created_arn:
        # Known as ours from now on: the next pass needs no ListTags to check ownership.
        outcome.fields["endpointArn"] = created_arn
    return outcome


def _outcome(ctx: ReconcileContext, obj: KubeObject, desired: EndpointDesired, observed: Mapping[str, Any] | None,
             plan: EndpointPlan, events: list[EventRecord], url: str, memory: EndpointMemory, target: AwsTarget
             ) -> Outcome:
    action_status = {ActionKind.CREATE: "Creating", ActionKind.UPDATE: "Updating",
                     ActionKind.UPDATE_WEIGHTS: "Updating", ActionKind.DELETE: "Deleting"}
    endpoint_status = action_status[plan.action.kind] if plan.action else str((observed or {}).get("EndpointStatus"))
    fields: dict[str, Any] = {
        "endpointName": desired.endpoint_name,
        "region": target.region,
        "endpointStatus": endpoint_status,
        "endpointUrl": url,
        "desiredEndpointConfigName": desired.config_name,
        "failedEndpointConfigName": plan.failed_config,
        "lastDeployment": dict(plan.deployment) if plan.deployment else None,
    }
    if observed is not None:
        fields.update({
            "endpointArn": observed.get("EndpointArn"),
            "currentEndpointConfigName": observed.get("EndpointConfigName"),
            "failureReason": observed.get("FailureReason") or None,
            "productionVariants": _variants_status(observed),
        })
    else:
        fields.update({"endpointArn": None, "currentEndpointConfigName": None, "failureReason": None,
                       "productionVariants": None})
    if plan.action is not None:
        fields["recreating"] = True if plan.action.kind is ActionKind.DELETE else None
    if memory.retry_requested and not (plan.poll and plan.action is None):
        # Consumed: by the action it caused, or as moot when there was nothing to retry (not while AWS is busy).
        fields["observedRetry"] = obj.annotations.get(RETRY_ANNOTATION)
        if plan.action is not None:
            fields["failedEndpointConfigName"] = None
    requeue: float | None
    if plan.poll:
        requeue = ctx.next_poll(obj.ref)
    else:
        ctx.stop_polling(obj.ref)
        requeue = ctx.seconds_until_drift_check(obj.ref) if plan.state is State.READY else None
    return Outcome(plan.state, plan.reason, plan.message, fields=fields, events=[*plan.events, *events],
                   requeue_after=requeue)


async def _execute(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, action: Action) -> dict[str, Any]:
    request = dict(action.request)
    if action.kind is ActionKind.CREATE:
        return await ctx.gateway.call(target, "create_endpoint", **request, Tags=as_aws_tags(ctx.tags(obj)))
    if action.kind is ActionKind.UPDATE:
        return await ctx.gateway.call(target, "update_endpoint", **request)
    if action.kind is ActionKind.UPDATE_WEIGHTS:
        return await ctx.gateway.call(target, "update_endpoint_weights_and_capacities", **request)
    await ctx.gateway.delete(target, "delete_endpoint", **request)
    return {}


async def finalize_endpoint(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Wait for the endpoint's inference components, then delete the AWS endpoint (if it is ours)."""
    components = ctx.store.components_on_endpoint(obj.namespace, obj.name)
    if components and obj.spec.get("deletionPolicy") != "Retain":
        names = ", ".join(sorted(c.name for c in components))
        return Outcome.progressing("WaitingForDependents", f"waiting for SageMakerInferenceComponent {names} on this "
                                                           "endpoint to be deleted before deleting it")
    return await delete_live(ctx, obj, ENDPOINT_RESOURCE, str(obj.status.get("endpointName") or endpoint_name_of(obj)))
