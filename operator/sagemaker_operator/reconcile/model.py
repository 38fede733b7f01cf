"""SageMakerModel: one immutable AWS model per spec revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.naming import content_hash, revision_name
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.reconcile.revisions import (
    MODEL_RESOURCE,
    ForeignResource,
    collectable,
    delete_revisions,
    ensure_revision,
    record_revision,
)
from sagemaker_operator.status import EventRecord, Outcome


@dataclass(frozen=True)
class RenderedModel:
    """The CreateModel request for one spec, and the revision name it gets."""

    name: str
    revision: str
    request: dict[str, Any]


def render_model(obj: KubeObject, cluster_id: str) -> RenderedModel:
    """The exact CreateModel request (without tags) for ``obj``'s spec; pure.

    The hash covers the owner too, so equal specs in two namespaces or clusters never collide on one AWS name.
    """
    body = kinds.MODEL.request(obj.spec)
    digest = content_hash({"owner": [cluster_id, obj.namespace, obj.name], "request": body})
    name = revision_name(obj.name, digest)
    return RenderedModel(name=name, revision=digest, request={"ModelName": name, **body})


def is_ready(obj: KubeObject) -> bool:
    """Whether the object's status says its current spec is live in AWS."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in obj.status.get("conditions") or ())
    return ready and obj.status.get("observedGeneration") == obj.generation


async def reconcile_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Make the AWS model for the current spec exist, and collect old revisions nothing uses."""
    try:
        target = ctx.target(obj)
        rendered = render_model(obj, ctx.settings.cluster_id)
    except (SpecProblem, SpecError) as problem:
        return Outcome.degraded("InvalidSpec", str(problem))
    status = obj.status
    events: list[EventRecord] = []
    arn = str(status.get("modelArn") or "")
    spec_changed = status.get("observedGeneration") != obj.generation
    try:
        if status.get("modelName") != rendered.name or not arn:
            retained = any(h.get("name") == rendered.name for h in status.get("revisions") or ())
            created = await ensure_revision(ctx, target, obj, MODEL_RESOURCE, rendered.request, ctx.tags(obj),
                                            retained=retained)
            arn = created.arn
            if created.created:
                events.append(EventRecord("Created", f"Created AWS model {rendered.name}"))
        elif spec_changed:
            # Same revision, other operator fields: the tags may be what changed.
            current = await ctx.gateway.list_tags(target, arn)
            await ctx.gateway.set_tags(target, arn, current, ctx.tags(obj))
        history = record_revision(status.get("revisions") or [], {"name": rendered.name, "revision": rendered.revision})
        stale = collectable(history, ctx.history_limit(obj), ctx.store.aws_models_in_use())
        deleted = await delete_revisions(ctx, target, MODEL_RESOURCE, stale)
    except ForeignResource as foreign:
        return Outcome.degraded("NotOwned", str(foreign))
    except AwsFailure as failure:
        return failure_outcome(failure, f"reconciling AWS model {rendered.name}")
    if deleted:
        events.append(EventRecord("GarbageCollected", f"Deleted old AWS models {', '.join(deleted)}"))
    return Outcome.ready(
        "Available", f"AWS model {rendered.name} is available",
        fields={"modelName": rendered.name, "modelArn": arn, "revision": rendered.revision, "region": target.region,
                "revisions": [h for h in history if h["name"] not in deleted]},
        events=events)


async def finalize_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Delete every AWS revision once no SageMakerEndpointConfig references the model any more."""
    if obj.spec.get("deletionPolicy") == "Retain":
        return Outcome.progressing("Retained", "deletionPolicy is Retain: AWS models are kept", finalized=True)
    users = [*ctx.store.configs_referencing_model(obj.namespace, obj.name),
             *ctx.store.components_using_model(obj.namespace, obj.name)]
    if users:
        names = ", ".join(sorted(f"{u.kind} {u.name}" for u in users))
        return Outcome.progressing(
            "WaitingForDependents", f"waiting for {names} to stop referencing this model before deleting it")
    revisions = [str(h["name"]) for h in obj.status.get("revisions") or []]
    if not revisions:
        return Outcome.progressing("Deleted", "no AWS model to delete", finalized=True)
    try:
        target = ctx.target(obj)
        await delete_revisions(ctx, target, MODEL_RESOURCE, revisions)
    except SpecProblem:
        return Outcome.progressing("Deleted", "no region: nothing was created", finalized=True)
    except AwsFailure as failure:
        return failure_outcome(failure, "deleting AWS models")
    return Outcome.progressing("Deleted", f"deleted AWS models {', '.join(revisions)}", finalized=True,
                               events=[EventRecord("Deleted", f"Deleted AWS models {', '.join(revisions)}")])
