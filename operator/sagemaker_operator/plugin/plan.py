"""``kubectl sagemaker plan``: what the operator would do in AWS for a set of manifests, without changing anything."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import yaml

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.plugin.common import OUTPUT_FORMATS, PluginError, Session, emit, main, table
from sagemaker_operator.reconcile.actions import Plan
from sagemaker_operator.reconcile.artifacts import ArtifactIdentity, ArtifactUnreadable, artifact_refs, tracking_enabled
from sagemaker_operator.reconcile.artifacts import observe as observe_artifacts
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext, SpecProblem, Waiting
from sagemaker_operator.reconcile.endpoint import ENDPOINT_LIVE
from sagemaker_operator.reconcile.endpoint_config import desired_config, render_config, resolve_model_names
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.inference_component import COMPONENT_LIVE
from sagemaker_operator.reconcile.live import LiveResource, plan_pass
from sagemaker_operator.reconcile.model import desired_model, render_model
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    INFERENCE_COMPONENT,
    MODEL,
    PLURALS,
    TRANSFORM_JOB,
    KubeObject,
    ObjectRef,
    ObjectStore,
)
from sagemaker_operator.reconcile.revisions import CONFIG_RESOURCE, MODEL_RESOURCE, ImmutableKind, plan_revision_pass
from sagemaker_operator.reconcile.transform_job import TransformPlan, plan_transform_pass, resolve_transform
from sagemaker_operator.status import State


@dataclass(frozen=True)
class PlannedChange:
    """What the operator would do for one object: a summary, and the AWS writes in the order it makes them."""

    kind: str
    name: str
    action: str  # create, update, update-weights, update-copies, recreate, run, stop, none, blocked, waiting
    details: str
    calls: tuple[str, ...] = ()  # API names of the AWS writes

    @property
    def changes(self) -> bool:
        """Whether applying the manifests changes something in AWS (or is refused)."""
        return self.action not in ("none", "waiting")


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def _manifest_sources(paths: Sequence[str], recursive: bool) -> list[tuple[str, str]]:
    """(name, text) of every manifest source, as ``kubectl apply -f`` reads them: files, folders (their .yaml, .yml
    and .json files; subfolders with -R) and ``-`` for standard input."""
    sources: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-":
            sources.append(("<stdin>", sys.stdin.read()))
        elif path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            sources += [(str(p), p.read_text()) for p in sorted(found) if p.is_file() and p.suffix in MANIFEST_SUFFIXES]
        elif path.is_file():
            sources.append((raw, path.read_text()))
        else:
            raise PluginError(f"{raw}: no such file or directory")
    return sources


def _documents(document: Any) -> list[Any]:
    """A document, or the items of a ``kind: List`` (what ``kubectl get -o yaml`` writes), nested Lists flattened."""
    if isinstance(document, dict) and document.get("kind") == "List" and isinstance(document.get("items"), list):
        return [each for item in document["items"] for each in _documents(item)]
    return [document]


def load_manifests(paths: Sequence[str], namespace: str, recursive: bool = False) -> list[KubeObject]:
    """The operator's objects in the manifests, in ``namespace`` (an object of another namespace is an error)."""
    objects = []
    for name, text in _manifest_sources(paths, recursive):
        try:
            documents = [each for document in yaml.safe_load_all(text) for each in _documents(document)]
        except yaml.YAMLError as error:
            raise PluginError(f"{name}: not valid YAML: {error}") from error
        for document in documents:
            if not isinstance(document, dict) or document.get("kind") not in PLURALS \
                    or not str(document.get("apiVersion", "")).startswith(f"{GROUP}/"):
                continue
            metadata = document.setdefault("metadata", {})
            if metadata.get("namespace", namespace) != namespace:
                raise PluginError(f"{name}: {document['kind']} {metadata.get('name')} is in namespace "
                                  f"{metadata['namespace']}; plan one namespace at a time (-n)")
            metadata["namespace"] = namespace
            objects.append(KubeObject.from_body(document))
    return objects


def cluster_id_of(live: Sequence[KubeObject], explicit: str | None) -> str:
    """The cluster id the AWS names are derived with: ``--cluster-id``, else the one the operator recorded in the
    status of the live objects, else "default" (the operator's default, for a namespace it has not touched yet)."""
    if explicit:
        return explicit
    recorded = sorted({str(obj.status["clusterId"]) for obj in live if obj.status.get("clusterId")})
    if len(recorded) > 1:
        raise PluginError(f"the objects in this namespace are managed by operators with different cluster ids "
                          f"({', '.join(recorded)}); choose one with --cluster-id")
    return recorded[0] if recorded else "default"


def affected(store: ObjectStore, refs: Sequence[ObjectRef]) -> set[ObjectRef]:
    """``refs`` and every object that depends on them: a model's configs, inference components and transform jobs,
    a config's endpoints (what a change of theirs rolls out to)."""
    found = set(refs)
    pending = list(refs)
    while pending:
        ref = pending.pop()
        if ref.kind == MODEL:
            dependants = [*store.configs_referencing_model(ref.namespace, ref.name),
                          *store.components_using_model(ref.namespace, ref.name),
                          *store.transform_jobs_using_model(ref.namespace, ref.name)]
        elif ref.kind == ENDPOINT_CONFIG:
            dependants = store.endpoints_referencing_config(ref.namespace, ref.name)
        else:
            dependants = []
        for obj in dependants:
            if obj.ref not in found:
                found.add(obj.ref)
                pending.append(obj.ref)
    return found


def _planned(live: KubeObject | None, manifest: KubeObject) -> KubeObject:
    """The object as it will be once applied: the manifest's spec, the live status, a bumped generation."""
    if live is None:
        return replace(manifest, generation=1, status={}, uid="")
    changed = dict(live.spec) != dict(manifest.spec)
    return replace(live, spec=manifest.spec, annotations={**live.annotations, **manifest.annotations},
                   generation=live.generation + (1 if changed else 0))


def _ready_as(obj: KubeObject, **fields: Any) -> KubeObject:
    """``obj`` as it will be once the operator has done its work: Ready, with these status fields."""
    condition = {"type": "Ready", "status": "True", "observedGeneration": obj.generation}
    return replace(obj, status={**obj.status, **fields, "observedGeneration": obj.generation,
                                "conditions": [condition]})


KINDS_IN_ORDER = (MODEL, ENDPOINT_CONFIG, ENDPOINT, INFERENCE_COMPONENT, TRANSFORM_JOB)


async def _plan(session: Session, manifests: list[KubeObject]) -> list[PlannedChange]:
    """The plan of the objects in the manifests and of the objects that depend on them, in the order the operator
    gets to them (models, configs, endpoints, inference components), decided by the operator's own planners."""
    store = ObjectStore()
    live = [KubeObject.from_body(body) for kind in KINDS_IN_ORDER for body in session.list(kind)]
    for obj in live:
        store.put(obj)
    for manifest in manifests:
        store.put(_planned(store.get(manifest.ref), manifest))
    wanted = affected(store, [m.ref for m in manifests])
    settings = OperatorSettings(cluster_id=cluster_id_of(live, session.cluster_id), default_region=session.region)
    gateway = SageMakerGateway(max_concurrency=4)
    ctx = ReconcileContext(gateway=gateway, store=store, settings=settings)
    changes: list[PlannedChange] = []
    try:
        for kind in KINDS_IN_ORDER:
            for obj in store.of_kind(kind):
                if obj.ref in wanted:
                    changes.append(await _plan_object(ctx, obj))
    except RetryLater as retry:
        raise PluginError(f"{retry.failure.operation}: {retry.failure.code}: {retry.failure.message}") from None
    except AwsFailure as failure:
        raise PluginError(f"{failure.operation}: {failure.code}: {failure.message}") from None
    finally:
        gateway.close()
    return changes


async def _plan_object(ctx: ReconcileContext, obj: KubeObject) -> PlannedChange:
    """One object's plan, observing AWS read-only exactly as the operator's next pass would."""
    try:
        target = await ctx.target(obj)
        if obj.kind in (MODEL, ENDPOINT_CONFIG):
            if obj.kind == MODEL:
                # Tracked when the spec says so, or when the operator's flag did (it recorded the artifacts).
                tracking = tracking_enabled(obj.spec, bool(obj.status.get("artifacts")))
                artifacts = tuple(await observe_artifacts(ctx.gateway, target, artifact_refs(
                    kinds.MODEL.request(obj.spec)))) if tracking else ()
                resource, desired = MODEL_RESOURCE, desired_model(render_model(obj, ctx.settings.cluster_id,
                                                                               artifacts))
                in_use = ctx.store.aws_models_in_use()
                why = _artifact_changes(obj, artifacts)
            else:
                why = ""
                resource = CONFIG_RESOURCE
                desired = desired_config(render_config(obj, ctx.settings.cluster_id, resolve_model_names(ctx, obj)))
                in_use = ctx.store.aws_configs_in_use()
            plan = await plan_revision_pass(ctx, target, obj, resource, desired, in_use)
            # Dependants are planned against the revision this one will have.
            ctx.store.put(_ready_as(obj, **{resource.name_field: desired.name}))
            change = _revision_change(obj, resource, desired.name, plan)
            return replace(change, details=f"{change.details} ({why})") if why and change.changes else change
        if obj.kind == TRANSFORM_JOB:
            job = await plan_transform_pass(ctx, target, obj, resolve_transform(ctx, obj))
            return _job_change(obj, job)
        live: LiveResource[Any] = ENDPOINT_LIVE if obj.kind == ENDPOINT else COMPONENT_LIVE
        wanted = live.resolve(ctx, obj)
    except (SpecProblem, SpecError) as problem:
        return PlannedChange(obj.kind, obj.name, "blocked", f"invalid spec: {problem}")
    except ArtifactUnreadable as unreadable:
        return PlannedChange(obj.kind, obj.name, "blocked", str(unreadable))
    except Waiting as waiting:
        return PlannedChange(obj.kind, obj.name, "waiting", str(waiting))
    # Tags are always compared: the operator does so on every Nth drift check, and the plan shows where it ends.
    plan = await plan_pass(ctx, target, obj, live, wanted, ctx.custody(obj, compare_tags=True))
    return _live_change(obj, live.name(wanted), plan)


def _artifact_changes(obj: KubeObject, artifacts: Sequence[ArtifactIdentity]) -> str:
    """"artifact changed: ..." when an artifact differs from what the current revision was built from."""
    before = {a.uri: a for a in (ArtifactIdentity.from_status(e) for e in obj.status.get("artifacts") or ())}
    changes = [a.change_from(before[a.uri]) for a in artifacts if a.uri in before and a != before[a.uri]]
    return "artifact changed: " + "; ".join(changes) if changes else ""


def _revision_change(obj: KubeObject, resource: ImmutableKind, name: str, plan: Plan) -> PlannedChange:
    calls = tuple(c.api for c in plan.calls)
    if plan.state is State.DEGRADED:
        return PlannedChange(obj.kind, obj.name, "blocked", plan.message, calls)
    current = obj.status.get(resource.name_field)
    noun = resource.noun
    if resource.create in calls:
        return PlannedChange(obj.kind, obj.name, "create", f"create AWS {noun} {name}"
                             + (f" (replacing {current})" if current and current != name else ""), calls)
    if current != name:
        return PlannedChange(obj.kind, obj.name, "update", f"switch back to the retained AWS {noun} {name}", calls)
    if calls:
        return PlannedChange(obj.kind, obj.name, "update", f"AWS {noun} {name}: {', '.join(calls)}", calls)
    return PlannedChange(obj.kind, obj.name, "none", f"AWS {noun} {name} is current", calls)


def _live_change(obj: KubeObject, name: str, plan: Plan) -> PlannedChange:
    calls = tuple(c.api for c in plan.calls)
    main = next((c for c in plan.calls if c.api not in SIDE_CALLS), None)
    if plan.state is State.DEGRADED:
        return PlannedChange(obj.kind, obj.name, "blocked", plan.message, calls)
    if main is None:
        if calls:
            return PlannedChange(obj.kind, obj.name, "update", f"{name}: {', '.join(calls)}", calls)
        action = "none" if plan.state is State.READY else "waiting"
        return PlannedChange(obj.kind, obj.name, action, plan.message, calls)
    request = main.request
    if main.api in ("CreateEndpoint", "CreateInferenceComponent"):
        where = f"with config {request.get('EndpointConfigName')}" if main.api == "CreateEndpoint" \
            else f"on endpoint {request.get('EndpointName')}"
        return PlannedChange(obj.kind, obj.name, "create", f"create {name} {where}", calls)
    if main.api == "UpdateEndpoint":
        how = _deployment_summary(request.get("DeploymentConfig"))
        return PlannedChange(obj.kind, obj.name, "update",
                             f"UpdateEndpoint {name}: config {plan.fields.get('currentEndpointConfigName')} -> "
                             f"{request.get('EndpointConfigName')} ({how}; the old fleet serves until the switch)",
                             calls)
    if main.api == "UpdateEndpointWeightsAndCapacities":
        moves = ", ".join(
            f"{c['VariantName']}: " + " ".join(f"{k.removeprefix('Desired').lower()}={v}" for k, v in c.items()
                                               if k != "VariantName")
            for c in request["DesiredWeightsAndCapacities"])
        return PlannedChange(obj.kind, obj.name, "update-weights", f"in place, no new fleet: {moves}", calls)
    if main.api == "UpdateInferenceComponent":
        return PlannedChange(obj.kind, obj.name, "update", f"UpdateInferenceComponent {name}: new specification "
                                                           "(rolling update; the old copies serve until replaced)",
                             calls)
    if main.api == "UpdateInferenceComponentRuntimeConfig":
        copies = request["DesiredRuntimeConfig"]["CopyCount"]
        return PlannedChange(obj.kind, obj.name, "update-copies", f"in place: {copies} copies", calls)
    return PlannedChange(obj.kind, obj.name, "recreate", plan.message, calls)


def _job_change(obj: KubeObject, plan: TransformPlan) -> PlannedChange:
    calls = (plan.call.api,) if plan.call else ()
    if plan.call is not None and plan.call.api == "CreateTransformJob":
        return PlannedChange(obj.kind, obj.name, "run", plan.message, calls)
    if plan.call is not None:
        return PlannedChange(obj.kind, obj.name, "stop", plan.message, calls)
    if plan.reason == "WaitingForModel":
        return PlannedChange(obj.kind, obj.name, "waiting", plan.message, calls)
    return PlannedChange(obj.kind, obj.name, "none", plan.message, calls)


# Calls around a resource's own change: tags and autoscaling.
SIDE_CALLS = frozenset({"AddTags", "DeleteTags", "RegisterScalableTarget", "DeregisterScalableTarget",
                        "PutScalingPolicy", "DeleteScalingPolicy"})


def _deployment_summary(config: Mapping[str, Any] | None) -> str:
    if not config:
        return "blue/green, all at once"
    if "RollingUpdatePolicy" in config:
        return "rolling update"
    routing = (config.get("BlueGreenUpdatePolicy") or {}).get("TrafficRoutingConfiguration") or {}
    kind = str(routing.get("Type", "ALL_AT_ONCE"))
    size = routing.get("CanarySize") or routing.get("LinearStepSize") or {}
    step = f" {size.get('Value')} {str(size.get('Type', '')).lower().replace('_', ' ')}" if size else ""
    return f"blue/green {kind.lower().replace('_', ' ')}{step}"


@main.command()
@click.option("-f", "--filename", "paths", multiple=True, required=True,
              help="Manifest file, folder or - for standard input (repeatable), as kubectl apply -f reads them: "
                   "multi-document YAML, JSON and kind: List.")
@click.option("-R", "--recursive", is_flag=True, help="Also read the subfolders of the folders given with -f.")
@click.option("-o", "--output", type=OUTPUT_FORMATS, default="table", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 2 when the plan changes something (0: nothing to do).")
@click.pass_obj
def plan(session: Session, paths: tuple[str, ...], recursive: bool, output: str, exit_code: bool) -> None:
    """What the operator would do in AWS for these manifests now, without changing anything.

    Plans the objects in the manifests and the objects that depend on them (a changed model's configs, their
    endpoints and the model's inference components) with the operator's own planners, and lists the AWS writes it
    would make, with the AWS names it derives: its cluster id is read from the objects' status.
    """
    manifests = load_manifests(paths, session.namespace, recursive)
    if not manifests:
        raise PluginError("no sagemaker.operator.dev objects in the given files")
    changes = asyncio.run(_plan(session, manifests))
    if output in ("json", "yaml"):
        emit([{"kind": c.kind, "name": c.name, "action": c.action, "details": c.details, "calls": list(c.calls)}
              for c in changes], output)
    else:
        table(["KIND", "NAME", "ACTION", "AWS CALLS", "DETAILS"],
              [[c.kind, c.name, c.action, ", ".join(c.calls) or "-", c.details] for c in changes])
    if exit_code and any(c.changes for c in changes):
        sys.exit(2)


