"""``kubectl sagemaker status``: endpoints, their configs, variants, traffic and components at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.api import rules
from sagemaker_operator.api.status_models import (
    AutoscalingStatus,
    CommonStatus,
    EndpointStatus,
    InferenceComponentStatus,
    TransformJobStatus,
    parse,
)
from sagemaker_operator.plugin.common import OUTPUT_FORMATS, PluginError, Session, condition, emit, main, table, traffic
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    INFERENCE_COMPONENT,
    MODEL,
    PLURALS,
    TRANSFORM_JOB,
    VERSION,
    component_refs,
    model_refs,
)


def _components(session: Session) -> list[dict[str, Any]]:
    """Every SageMakerInferenceComponent of the namespace; none where the kind is not installed."""
    return _optional_list(session, INFERENCE_COMPONENT)


def _optional_list(session: Session, kind: str) -> list[dict[str, Any]]:
    """Every object of ``kind`` in the namespace; none where the CRDs are of an operator version without it."""
    try:
        listing: Any = session.objects().list_namespaced_custom_object(GROUP, VERSION, session.namespace,
                                                                       PLURALS[kind])
    except ApiException as error:
        if error.status == 404:
            return []
        raise PluginError(f"listing {PLURALS[kind]}: {error.status} {error.reason}") from error
    items: list[dict[str, Any]] = listing["items"]
    return items


def _scaling_targets(autoscaling: AutoscalingStatus | None) -> list[dict[str, Any]]:
    """The scalable targets the operator registered, as it recorded them in status."""
    return [t.model_dump(by_alias=True) for t in autoscaling.targets] if autoscaling else []


def _reasons(status: CommonStatus) -> tuple[str, str | None, str | None]:
    """Ready's status, and the reason and message to show: Degraded's when it is True, else Ready's."""
    ready, degraded = status.condition("Ready"), status.condition("Degraded")
    shown = degraded if degraded is not None and degraded.status == "True" else ready
    return (ready.status if ready else "Unknown", shown.reason if shown else None, shown.message if shown else None)


def _component_view(component: Mapping[str, Any]) -> dict[str, Any]:
    spec = component.get("spec", {})
    status = parse(InferenceComponentStatus, component.get("status", {}))
    ready, reason, _ = _reasons(status)
    runtime = status.runtime_config
    return {
        "name": component["metadata"]["name"],
        "awsName": status.inference_component_name or spec.get("inferenceComponentName")
        or component["metadata"]["name"],
        "status": status.inference_component_status,
        "ready": ready,
        "reason": reason,
        "variantName": spec.get("variantName"),
        "models": list(status.model_names),
        "copies": {"current": runtime.current_copy_count if runtime else None,
                   "desired": runtime.desired_copy_count if runtime else None},
        "autoscaling": _scaling_targets(status.autoscaling),
    }


def _job_view(job: Mapping[str, Any]) -> dict[str, Any]:
    """A transform job: its current run, how it ended, its attempts and its output."""
    spec = job.get("spec", {})
    status = parse(TransformJobStatus, job.get("status", {}))
    _, reason, message = _reasons(status)
    complete, failed = status.condition("Complete"), status.condition("Failed")
    return {
        "name": job["metadata"]["name"],
        "awsName": status.job_name,
        "jobStatus": status.job_status,
        "complete": complete.status if complete else "Unknown",
        "failed": failed.status if failed else "Unknown",
        "reason": reason,
        "message": message,
        "model": (spec.get("modelRef") or {}).get("name") or spec.get("modelName"),
        "modelName": status.model_name,
        "attempts": [a.model_dump(by_alias=True, exclude_none=True) for a in status.attempts],
        "backoffLimit": int(spec.get("backoffLimit") or 0),
        "startTime": status.start_time,
        "completionTime": status.completion_time,
        "durationSeconds": status.duration_seconds,
        "outputPath": status.output_path,
        "outputObjects": status.output_objects,
        "failureReason": status.failure_reason,
    }


def _jobs(session: Session, output: str, name: str | None) -> None:
    """``status smtransform[/NAME]``: transform jobs."""
    bodies = [session.require(TRANSFORM_JOB, name)] if name else _optional_list(session, TRANSFORM_JOB)
    views = [_job_view(body) for body in bodies]
    if output in ("json", "yaml"):
        emit(views[0] if name else views, output)
        return
    if not views:
        click.echo(f"No SageMakerTransformJobs in namespace {session.namespace}.", err=True)
        return
    headers = ["JOB", "AWS NAME", "STATUS", "COMPLETE", "REASON", "ATTEMPTS", "DURATION", "OUTPUT"]
    if output == "wide" or name:
        headers += ["MODEL", "STARTED", "COMPLETED", "MESSAGE"]
    rows = []
    for view in views:
        output_text = f"{view['outputPath'] or ''}" + (f" ({view['outputObjects']} objects)"
                                                     if view["outputObjects"] is not None else "")
        row = [view["name"], view["awsName"], view["jobStatus"], view["complete"], view["reason"],
               f"{len(view['attempts'])}/{view['backoffLimit'] + 1}",
               "" if view["durationSeconds"] is None else f"{view['durationSeconds']}s", output_text]
        if output == "wide" or name:
            row += [f"{view['model']}={view['modelName'] or '?'}", view["startTime"], view["completionTime"],
                    view["message"]]
        rows.append(row)
    table(headers, rows)


JOB_KIND_NAMES = frozenset({"smtransform", "sagemakertransformjob", "sagemakertransformjobs"})


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
    spec = endpoint.get("spec", {})
    status = parse(EndpointStatus, endpoint.get("status", {}))
    ready, reason, message = _reasons(status)
    view: dict[str, Any] = {
        "name": endpoint["metadata"]["name"],
        "awsName": status.endpoint_name or rules.ENDPOINT_NAME.of(spec, endpoint["metadata"]["name"]),
        "region": status.region,
        "endpointStatus": status.endpoint_status,
        "ready": ready,
        "reason": reason,
        "message": message,
        "currentEndpointConfigName": status.current_endpoint_config_name,
        "desiredEndpointConfigName": status.desired_endpoint_config_name,
        "productionVariants": [v.model_dump(by_alias=True, exclude_none=True)
                               for v in status.production_variants or []],
        "lastDeployment": status.last_deployment.model_dump(by_alias=True, exclude_none=True)
        if status.last_deployment else None,
        "endpointUrl": status.endpoint_url,
        "autoscaling": _scaling_targets(status.autoscaling),
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
            "ready": condition(config, "Ready").get("status", "Unknown") if config else "Missing",
            "revisions": [{"revision": index, "awsName": r.get("name"), "models": r.get("modelNames", [])}
                          for index, r in enumerate(config_status.get("revisions") or [])],
        }
        models = []
        for model_name in sorted(set(model_refs(config.get("spec", {})))):
            model = session.get(MODEL, model_name) or {}
            models.append({"name": model_name, "awsName": model.get("status", {}).get("modelName"),
                           "ready": condition(model, "Ready").get("status", "Unknown") if model else "Missing"})
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
    traffic, revisions and autoscaling.

    ``status smtransform`` lists the transform jobs, ``status smtransform/NAME`` shows one: its run, attempts,
    duration and output.
    """
    kind, _, named = (endpoint or "").partition("/")
    if kind.lower() in JOB_KIND_NAMES:
        _jobs(session, output, named or None)
        return
    bodies = [session.require(ENDPOINT, endpoint)] if endpoint else session.list(ENDPOINT)
    components = _components(session) if bodies else []
    views = [_chain(session, body, components) for body in bodies]
    if output in ("json", "yaml"):
        emit(views[0] if endpoint else views, output)
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
               view["currentEndpointConfigName"], traffic(view),
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
    table(headers, rows)
    if not endpoint:
        return
    if view.get("config", {}).get("revisions"):
        click.echo("\nRevisions of the config (use `kubectl sagemaker rollback ENDPOINT --to-revision N`):")
        table(["REVISION", "AWS CONFIG", "MODELS"],
               [[r["revision"], r["awsName"], ",".join(r["models"])] for r in view["config"]["revisions"]])
    if view["components"]:
        click.echo("\nInference components (COPIES: current/desired):")
        table(["COMPONENT", "AWS NAME", "STATUS", "READY", "VARIANT", "COPIES", "MODELS"],
               [[c["name"], c["awsName"], c["status"], c["ready"], c["variantName"], _copies(c), ",".join(c["models"])]
                for c in view["components"]])
    targets = [*view["autoscaling"], *(t for c in view["components"] for t in c["autoscaling"])]
    if targets:
        click.echo("\nAutoscaling (scalable targets the operator registered):")
        table(["RESOURCE ID", "DIMENSION", "MIN", "MAX", "POLICIES"],
               [[t.get("resourceId"), t.get("scalableDimension"), t.get("minCapacity"), t.get("maxCapacity"),
                 ",".join(t.get("policies") or [])] for t in targets])


