"""``kubectl sagemaker``: status, invoke, plan and rollback for endpoints managed by sagemaker-operator.

kubectl finds the console script ``kubectl-sagemaker`` on PATH. The commands read the custom resources with the
user's own kubeconfig and call AWS with the user's own credentials; ``plan`` runs the operator's own decision code
(render and plan) without changing anything.

Exit codes: 0 success, 1 an error (object not found, endpoint not serving, AWS error), 2 bad usage; ``plan
--exit-code`` exits 2 when it would change something.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from sagemaker_operator import __version__
from sagemaker_operator.api import rules
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.clients import AwsTarget, ClientFactory
from sagemaker_operator.aws.errors import AwsFailure, classify
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.endpoint import (
    ActionKind,
    WaitingForConfig,
    memory_of,
    plan_endpoint,
    resolve_endpoint,
)
from sagemaker_operator.reconcile.endpoint_config import render_config, resolve_model_names
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.model import WaitingForModel, render_model
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    INFERENCE_COMPONENT,
    MODEL,
    PLURALS,
    VERSION,
    KubeObject,
    ObjectRef,
    ObjectStore,
    component_refs,
    model_refs,
)

SERVING_STATES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
OUTPUT_FORMATS = click.Choice(["table", "wide", "json", "yaml"])


class PluginError(click.ClickException):
    """An error for the user: printed as ``error: ...``, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class Session:
    """What every command needs: the cluster, the namespace, and how to reach AWS.

    The kubeconfig is read on first use, not when the command line is parsed, so that ``--help`` of any command
    works without one.
    """

    kubeconfig: str | None
    kube_context: str | None
    namespace_flag: str | None
    cluster_id: str
    region: str | None

    @functools.cached_property
    def _connection(self) -> tuple[kubernetes.client.ApiClient, str]:
        config_file = self.kubeconfig.split(os.pathsep)[0] if self.kubeconfig else None
        try:
            api = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=config_file, context=self.kube_context)
            namespace = self.namespace_flag
            if namespace is None:
                contexts, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                    config_file=config_file)
                if self.kube_context:
                    active = next((c for c in contexts if c["name"] == self.kube_context), active)
                namespace = (active or {}).get("context", {}).get("namespace") or "default"
        except (kubernetes.config.ConfigException, FileNotFoundError) as error:
            raise PluginError(f"cannot load the kubeconfig: {error}") from error
        return api, namespace

    @property
    def api(self) -> kubernetes.client.ApiClient:
        """The Kubernetes API client (the kubeconfig is loaded on first use)."""
        return self._connection[0]

    @property
    def namespace(self) -> str:
        """``--namespace``, else the kubeconfig context's namespace, else ``default``."""
        return self._connection[1]

    def close(self) -> None:
        """Close the API client if one was made."""
        if "_connection" in self.__dict__:
            self._connection[0].close()  # type: ignore[no-untyped-call]

    def objects(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """One custom resource, or None."""
        try:
            body: Any = self.objects().get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
            return dict(body)
        except ApiException as error:
            if error.status == 404:
                return None
            raise PluginError(f"reading {kind} {name}: {error.status} {error.reason}") from error

    def require(self, kind: str, name: str) -> dict[str, Any]:
        body = self.get(kind, name)
        if body is None:
            raise PluginError(f"{kind} {name!r} not found in namespace {self.namespace!r}")
        return body

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every custom resource of a kind in the namespace."""
        try:
            listing: Any = self.objects().list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind])
            items: list[dict[str, Any]] = listing["items"]
        except ApiException as error:
            raise PluginError(f"listing {PLURALS[kind]}: {error.status} {error.reason}") from error
        for item in items:
            item.setdefault("kind", kind)
        return items

    def target(self, body: Mapping[str, Any]) -> AwsTarget:
        spec, status = body.get("spec", {}), body.get("status", {})
        region = status.get("region") or spec.get("region") or self.region
        if not region:
            raise PluginError("no AWS region: the object has none in its status, and neither --region nor "
                              "AWS_REGION is set")
        return AwsTarget(region=str(region), role_arn=spec.get("assumeRoleArn") or None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubectl-sagemaker")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
              help="Kubeconfig file (default: KUBECONFIG, then ~/.kube/config).")
@click.option("--context", "kube_context", help="Kubeconfig context to use.")
@click.option("-n", "--namespace", help="Namespace (default: the context's namespace, else 'default').")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
              help="AWS region for objects whose status does not say it yet.")
@click.option("--cluster-id", envvar="SAGEMAKER_OPERATOR_CLUSTER_ID", default="default", show_default=True,
              help="The operator's --cluster-id (it is part of the AWS names `plan` computes).")
@click.pass_context
def main(ctx: click.Context, kubeconfig: str | None, kube_context: str | None, namespace: str | None,
         region: str | None, cluster_id: str) -> None:
    """kubectl plugin for SageMaker endpoints managed by sagemaker-operator (`kubectl sagemaker ...`)."""
    session = Session(kubeconfig=kubeconfig, kube_context=kube_context, namespace_flag=namespace,
                      cluster_id=cluster_id, region=region)
    ctx.obj = session
    ctx.call_on_close(session.close)


def _emit(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A kubectl-style table: upper-case headers, columns padded with three spaces."""
    cells = [[str(h) for h in headers], *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _condition(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for condition in body.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _traffic(status: Mapping[str, Any]) -> str:
    parts = []
    for variant in status.get("productionVariants") or []:
        weight = variant.get("currentWeight")
        count = variant.get("currentInstanceCount")
        parts.append(f"{variant.get('variantName')}={weight if weight is not None else '?'}"
                     + (f"x{count}" if count is not None else ""))
    return ",".join(parts)


# --- status -----------------------------------------------------------------------------------------------------

def _components(session: Session) -> list[dict[str, Any]]:
    """Every SageMakerInferenceComponent of the namespace; none where the kind is not installed."""
    try:
        listing: Any = session.objects().list_namespaced_custom_object(GROUP, VERSION, session.namespace,
                                                                       PLURALS[INFERENCE_COMPONENT])
    except ApiException as error:
        if error.status == 404:  # CRDs of an operator version without inference components
            return []
        raise PluginError(f"listing {PLURALS[INFERENCE_COMPONENT]}: {error.status} {error.reason}") from error
    items: list[dict[str, Any]] = listing["items"]
    return items


def _scaling_targets(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scalable targets the operator registered, as it recorded them in status."""
    return [dict(t) for t in (status.get("autoscaling") or {}).get("targets") or []]


def _component_view(component: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = component.get("spec", {}), component.get("status", {})
    ready, degraded = _condition(component, "Ready"), _condition(component, "Degraded")
    runtime = status.get("runtimeConfig") or {}
    return {
        "name": component["metadata"]["name"],
        "awsName": status.get("inferenceComponentName") or spec.get("inferenceComponentName")
        or component["metadata"]["name"],
        "status": status.get("inferenceComponentStatus"),
        "ready": ready.get("status", "Unknown"),
        "reason": (degraded if degraded.get("status") == "True" else ready).get("reason"),
        "variantName": spec.get("variantName"),
        "models": list(status.get("modelNames") or []),
        "copies": {"current": runtime.get("currentCopyCount"), "desired": runtime.get("desiredCopyCount")},
        "autoscaling": _scaling_targets(status),
    }


def _hosted_on(component: Mapping[str, Any], endpoint: Mapping[str, Any], aws_name: str) -> bool:
    """Whether ``component`` runs on ``endpoint``: by endpointRef, or by a literal endpointName."""
    spec = component.get("spec", {})
    ref = component_refs(spec)[0]
    if ref is not None:
        return bool(ref == endpoint["metadata"]["name"])
    return bool(spec.get("endpointName") == aws_name)


def _copies(component: Mapping[str, Any]) -> str:
    copies = component.get("copies") or {}
    current, desired = copies.get("current"), copies.get("desired")
    if current is None and desired is None:
        return "?"
    return f"{'?' if current is None else current}/{'?' if desired is None else desired}"


def _chain(session: Session, endpoint: Mapping[str, Any],
           components: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One endpoint with its config, models, retained revisions, inference components and scalable targets, as plain
    data."""
    spec, status = endpoint.get("spec", {}), endpoint.get("status", {})
    ready, degraded = _condition(endpoint, "Ready"), _condition(endpoint, "Degraded")
    view: dict[str, Any] = {
        "name": endpoint["metadata"]["name"],
        "awsName": status.get("endpointName") or rules.ENDPOINT_NAME.of(spec, endpoint["metadata"]["name"]),
        "region": status.get("region"),
        "endpointStatus": status.get("endpointStatus"),
        "ready": ready.get("status", "Unknown"),
        "reason": (degraded if degraded.get("status") == "True" else ready).get("reason"),
        "message": (degraded if degraded.get("status") == "True" else ready).get("message"),
        "currentEndpointConfigName": status.get("currentEndpointConfigName"),
        "desiredEndpointConfigName": status.get("desiredEndpointConfigName"),
        "productionVariants": status.get("productionVariants") or [],
        "lastDeployment": status.get("lastDeployment"),
        "endpointUrl": status.get("endpointUrl"),
        "autoscaling": _scaling_targets(status),
    }
    view["components"] = sorted((_component_view(c) for c in components if _hosted_on(c, endpoint, view["awsName"])),
                                key=lambda c: str(c["name"]))
    config_name = (spec.get("endpointConfigRef") or {}).get("name")
    if config_name:
        config = session.get(ENDPOINT_CONFIG, config_name) or {}
        config_status = config.get("status", {})
        view["config"] = {
            "name": config_name,
            "awsName": config_status.get("endpointConfigName"),
            "ready": _condition(config, "Ready").get("status", "Unknown") if config else "Missing",
            "revisions": [{"revision": index, "awsName": r.get("name"), "models": r.get("modelNames", [])}
                          for index, r in enumerate(config_status.get("revisions") or [])],
        }
        models = []
        for model_name in sorted(set(model_refs(config.get("spec", {})))):
            model = session.get(MODEL, model_name) or {}
            models.append({"name": model_name, "awsName": model.get("status", {}).get("modelName"),
                           "ready": _condition(model, "Ready").get("status", "Unknown") if model else "Missing"})
        view["models"] = models
    else:
        view["config"] = {"awsName": spec.get("endpointConfigName"), "literal": True}
    return view


@main.command()
@click.argument("endpoint", required=False)
@click.option("-o", "--output", type=OUTPUT_FORMATS, default="table", show_default=True)
@click.pass_obj
def status(session: Session, endpoint: str | None, output: str) -> None:
    """The chain behind each endpoint (endpoint -> config -> models, and its inference components), its AWS status,
    traffic, revisions and autoscaling."""
    bodies = [session.require(ENDPOINT, endpoint)] if endpoint else session.list(ENDPOINT)
    components = _components(session) if bodies else []
    views = [_chain(session, body, components) for body in bodies]
    if output in ("json", "yaml"):
        _emit(views[0] if endpoint else views, output)
        return
    if not views:
        click.echo(f"No SageMakerEndpoints in namespace {session.namespace}.", err=True)
        return
    headers = ["ENDPOINT", "AWS NAME", "STATUS", "READY", "REASON", "CONFIG", "TRAFFIC", "LAST DEPLOYMENT"]
    if output == "wide":
        headers += ["DESIRED CONFIG", "MODELS", "COMPONENTS", "AUTOSCALING", "MESSAGE"]
    rows = []
    for view in views:
        deployment = view.get("lastDeployment") or {}
        row = [view["name"], view["awsName"], view["endpointStatus"], view["ready"], view["reason"],
               view["currentEndpointConfigName"], _traffic(view),
               f"{deployment.get('outcome')} {deployment.get('finishedAt') or deployment.get('startedAt')}"
               if deployment else ""]
        if output == "wide":
            row += [view["desiredEndpointConfigName"],
                    ",".join(f"{m['name']}={m['awsName']}" for m in view.get("models", [])),
                    ",".join(f"{c['name']}={c['awsName']}({c['status'] or '?'},{_copies(c)})"
                             for c in view["components"]),
                    ",".join(f"{t.get('name')}={t.get('minCapacity')}-{t.get('maxCapacity')}"
                             for t in [*view["autoscaling"], *(t for c in view["components"]
                                                               for t in c["autoscaling"])]),
                    view["message"]]
        rows.append(row)
    _table(headers, rows)
    if not endpoint:
        return
    if view.get("config", {}).get("revisions"):
        click.echo("\nRevisions of the config (use `kubectl sagemaker rollback ENDPOINT --to-revision N`):")
        _table(["REVISION", "AWS CONFIG", "MODELS"],
               [[r["revision"], r["awsName"], ",".join(r["models"])] for r in view["config"]["revisions"]])
    if view["components"]:
        click.echo("\nInference components (COPIES: current/desired):")
        _table(["COMPONENT", "AWS NAME", "STATUS", "READY", "VARIANT", "COPIES", "MODELS"],
               [[c["name"], c["awsName"], c["status"], c["ready"], c["variantName"], _copies(c), ",".join(c["models"])]
                for c in view["components"]])
    targets = [*view["autoscaling"], *(t for c in view["components"] for t in c["autoscaling"])]
    if targets:
        click.echo("\nAutoscaling (scalable targets the operator registered):")
        _table(["RESOURCE ID", "DIMENSION", "MIN", "MAX", "POLICIES"],
               [[t.get("resourceId"), t.get("scalableDimension"), t.get("minCapacity"), t.get("maxCapacity"),
                 ",".join(t.get("policies") or [])] for t in targets])


# --- invoke -----------------------------------------------------------------------------------------------------

@main.command()
@click.argument("endpoint")
@click.option("--body", help="Request body (e.g. JSON).")
@click.option("--file", "body_file", type=click.File("rb"), help="Read the request body from a file ('-': stdin).")
@click.option("--content-type", default="application/json", show_default=True)
@click.option("--accept", help="Accept header for the response.")
@click.option("--variant", help="Send to this production variant (TargetVariant).")
@click.option("--component", help="Send to this inference component (InferenceComponentName).")
@click.option("-o", "--output", type=click.Choice(["raw", "json", "yaml"]), default="raw", show_default=True,
              help="raw: the response body on stdout, the variant on stderr.")
@click.pass_obj
def invoke(session: Session, endpoint: str, body: str | None, body_file: Any, content_type: str,
           accept: str | None, variant: str | None, component: str | None, output: str) -> None:
    """Call InvokeEndpoint on the SageMaker endpoint a SageMakerEndpoint manages."""
    if (body is None) == (body_file is None):
        raise click.UsageError("give exactly one of --body and --file")
    payload = body.encode() if body is not None else body_file.read()
    resource = session.require(ENDPOINT, endpoint)
    status = resource.get("status", {})
    state = status.get("endpointStatus")
    aws_name = status.get("endpointName") or rules.ENDPOINT_NAME.of(resource["spec"], endpoint)
    if state not in SERVING_STATES:
        reason = _condition(resource, "Degraded").get("message") or _condition(resource, "Ready").get("message")
        raise PluginError(f"endpoint {aws_name} is {state or 'not created yet'}, not InService"
                          + (f": {reason}" if reason else "")
                          + f". Wait with: kubectl wait --for=condition=Ready smendpoint/{endpoint}")
    params: dict[str, Any] = {"EndpointName": aws_name, "Body": payload, "ContentType": content_type}
    for key, value in (("Accept", accept), ("TargetVariant", variant), ("InferenceComponentName", component)):
        if value:
            params[key] = value
    client = ClientFactory().client("sagemaker-runtime", session.target(resource))
    try:
        response = client.invoke_endpoint(**params)
    except Exception as error:
        failure = classify(error, "InvokeEndpoint")
        raise PluginError(f"InvokeEndpoint {aws_name}: {failure.code}: {failure.message}") from error
    answer: bytes = response["Body"].read()
    served_by = response.get("InvokedProductionVariant")
    if output == "raw":
        sys.stdout.buffer.write(answer)
        if not answer.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        click.echo(f"served by variant {served_by}", err=True)
        return
    text = answer.decode(errors="replace")
    try:
        decoded: Any = json.loads(text)
    except ValueError:
        decoded = text
    _emit({"endpoint": aws_name, "variant": served_by, "contentType": response.get("ContentType"),
           "body": decoded}, output)


# --- plan -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedChange:
    """What the operator would do for one object."""

    kind: str
    name: str
    action: str  # create, update, update-weights, recreate, none, blocked, waiting
    details: str

    @property
    def changes(self) -> bool:
        return self.action not in ("none", "waiting")


def _load_manifests(paths: Sequence[str], namespace: str) -> list[KubeObject]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        elif path.exists():
            files.append(path)
        else:
            raise PluginError(f"{raw}: no such file or directory")
    objects = []
    for file in files:
        try:
            documents = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as error:
            raise PluginError(f"{file}: not valid YAML: {error}") from error
        for document in documents:
            if not isinstance(document, dict) or document.get("kind") not in PLURALS \
                    or not str(document.get("apiVersion", "")).startswith(f"{GROUP}/"):
                continue
            metadata = document.setdefault("metadata", {})
            if metadata.get("namespace", namespace) != namespace:
                raise PluginError(f"{file}: {document['kind']} {metadata.get('name')} is in namespace "
                                  f"{metadata['namespace']}; plan one namespace at a time (-n)")
            metadata["namespace"] = namespace
            objects.append(KubeObject.from_body(document))
    return objects


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


async def _plan(session: Session, manifests: list[KubeObject]) -> list[PlannedChange]:
    store = ObjectStore()
    for kind in (MODEL, ENDPOINT_CONFIG, ENDPOINT):
        for body in session.list(kind):
            store.put(KubeObject.from_body(body))
    in_manifests = {m.ref for m in manifests}
    for manifest in manifests:
        store.put(_planned(store.get(manifest.ref), manifest))
    settings = OperatorSettings(cluster_id=session.cluster_id, default_region=session.region)
    gateway = SageMakerGateway(max_concurrency=4)
    ctx = ReconcileContext(gateway=gateway, store=store, settings=settings)
    changes: list[PlannedChange] = []
    try:
        for obj in store.of_kind(MODEL):
            changes.append(_plan_immutable(ctx, obj, "model"))
        for obj in store.of_kind(ENDPOINT_CONFIG):
            changes.append(_plan_immutable(ctx, obj, "endpoint config"))
        for obj in store.of_kind(ENDPOINT):
            changes.append(await _plan_endpoint(ctx, obj))
    finally:
        gateway.close()
    return [c for c in changes if ObjectRef(c.kind, session.namespace, c.name) in in_manifests or c.changes]


def _plan_immutable(ctx: ReconcileContext, obj: KubeObject, noun: str) -> PlannedChange:
    """Models and configs: a new AWS revision, a retained one, or nothing; records the outcome in the store."""
    try:
        if obj.kind == MODEL:
            rendered_name = render_model(obj, ctx.settings.cluster_id).name
            key = "modelName"
        else:
            rendered_name = render_config(obj, ctx.settings.cluster_id, resolve_model_names(ctx, obj)).name
            key = "endpointConfigName"
    except (SpecProblem, SpecError) as problem:
        return PlannedChange(obj.kind, obj.name, "blocked", f"invalid spec: {problem}")
    except WaitingForModel as waiting:
        return PlannedChange(obj.kind, obj.name, "waiting", str(waiting))
    current = obj.status.get(key)
    retained = {str(r.get("name")) for r in obj.status.get("revisions") or []}
    ctx.store.put(_ready_as(obj, **{key: rendered_name}))
    if current == rendered_name:
        return PlannedChange(obj.kind, obj.name, "none", f"AWS {noun} {rendered_name} is current")
    if rendered_name in retained:
        return PlannedChange(obj.kind, obj.name, "update", f"switch back to the retained AWS {noun} {rendered_name}")
    return PlannedChange(obj.kind, obj.name, "create", f"create AWS {noun} {rendered_name}"
                         + (f" (replacing {current})" if current else ""))


async def _plan_endpoint(ctx: ReconcileContext, obj: KubeObject) -> PlannedChange:
    try:
        desired = resolve_endpoint(ctx, obj)
        target = await ctx.target(obj)
    except (SpecProblem, SpecError) as problem:
        return PlannedChange(obj.kind, obj.name, "blocked", f"invalid spec: {problem}")
    except RetryLater as retry:
        raise PluginError(f"{retry.failure.operation}: {retry.failure.code}: {retry.failure.message}") from None
    except WaitingForConfig as waiting:
        return PlannedChange(obj.kind, obj.name, "waiting", str(waiting))
    try:
        observed = await ctx.gateway.describe(target, "describe_endpoint", EndpointName=desired.endpoint_name)
    except AwsFailure as failure:
        raise PluginError(f"DescribeEndpoint {desired.endpoint_name}: {failure.code}: {failure.message}") from None
    plan = plan_endpoint(desired, observed, memory_of(obj))
    name = desired.endpoint_name
    if plan.action is None:
        return PlannedChange(obj.kind, obj.name, "none" if plan.reason == "InService" else "blocked",
                             plan.message)
    request = plan.action.request
    if plan.action.kind is ActionKind.CREATE:
        return PlannedChange(obj.kind, obj.name, "create", f"create endpoint {name} with config "
                                                           f"{desired.config_name}")
    if plan.action.kind is ActionKind.UPDATE:
        how = _deployment_summary(request.get("DeploymentConfig"))
        return PlannedChange(obj.kind, obj.name, "update",
                             f"UpdateEndpoint {name}: config {(observed or {}).get('EndpointConfigName')} -> "
                             f"{desired.config_name} ({how}; the old fleet serves until the switch)")
    if plan.action.kind is ActionKind.UPDATE_WEIGHTS:
        moves = ", ".join(
            f"{c['VariantName']}: " + " ".join(f"{k.removeprefix('Desired').lower()}={v}" for k, v in c.items()
                                               if k != "VariantName")
            for c in request["DesiredWeightsAndCapacities"])
        return PlannedChange(obj.kind, obj.name, "update-weights", f"in place, no new fleet: {moves}")
    return PlannedChange(obj.kind, obj.name, "recreate", plan.message)


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
              help="Manifest file or folder (repeatable).")
@click.option("-o", "--output", type=OUTPUT_FORMATS, default="table", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 2 when the plan changes something (0: nothing to do).")
@click.pass_obj
def plan(session: Session, paths: tuple[str, ...], output: str, exit_code: bool) -> None:
    """What the operator would do in AWS for these manifests now, without changing anything."""
    manifests = _load_manifests(paths, session.namespace)
    if not manifests:
        raise PluginError("no sagemaker.operator.dev objects in the given files")
    changes = asyncio.run(_plan(session, manifests))
    if output in ("json", "yaml"):
        _emit([{"kind": c.kind, "name": c.name, "action": c.action, "details": c.details} for c in changes],
              output)
    else:
        _table(["KIND", "NAME", "ACTION", "DETAILS"], [[c.kind, c.name, c.action, c.details] for c in changes])
    if exit_code and any(c.changes for c in changes):
        sys.exit(2)


# --- rollback ---------------------------------------------------------------------------------------------------

@main.command()
@click.argument("endpoint")
@click.option("--to-revision", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which retained revision of the endpoint's config: 1 is the previous one "
                   "(`kubectl sagemaker status ENDPOINT` lists them).")
@click.pass_obj
def rollback(session: Session, endpoint: str, to_revision: int) -> None:
    """Switch an endpoint back to a retained revision of its config.

    The endpoint is pinned to that AWS config (spec.endpointConfigName); the operator updates it with the
    endpoint's deployment config. Re-apply your manifests (or set spec.endpointConfigRef) to follow the config again.
    """
    resource = session.require(ENDPOINT, endpoint)
    state = resource.get("status", {}).get("endpointStatus")
    if state in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
        raise PluginError(f"endpoint {endpoint} is {state}; roll back once it is InService")
    config_name = (resource["spec"].get("endpointConfigRef") or {}).get("name")
    if not config_name:
        raise PluginError(f"endpoint {endpoint} names a literal endpointConfigName, not a SageMakerEndpointConfig: "
                          "it has no revisions to roll back to")
    config = session.require(ENDPOINT_CONFIG, config_name)
    revisions = config.get("status", {}).get("revisions") or []
    if to_revision >= len(revisions):
        raise PluginError(f"SageMakerEndpointConfig {config_name} retains {max(len(revisions) - 1, 0)} previous "
                          f"revision(s); there is no revision {to_revision}")
    target = str(revisions[to_revision]["name"])
    patch = {"spec": {"endpointConfigRef": None, "endpointConfigName": target}}
    try:
        session.objects().patch_namespaced_custom_object(GROUP, VERSION, session.namespace, PLURALS[ENDPOINT],
                                                         endpoint, patch)
    except ApiException as error:
        raise PluginError(f"patching SageMakerEndpoint {endpoint}: {error.status} {error.reason}") from error
    click.echo(f"SageMakerEndpoint {endpoint} now asks for AWS config {target} (revision {to_revision} of "
               f"{config_name}); the operator updates the endpoint. Re-apply your manifests to follow "
               f"{config_name} again.")
