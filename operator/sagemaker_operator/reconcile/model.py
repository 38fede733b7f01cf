"""SageMakerModel: one immutable AWS model per spec revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem, Waiting
from sagemaker_operator.reconcile.naming import content_hash, revision_name
from sagemaker_operator.reconcile.objects import MODEL, KubeObject, ObjectRef
from sagemaker_operator.reconcile.revisions import (
    MODEL_RESOURCE,
    RevisionDesired,
    finalize_revisions,
    reconcile_revision,
)
from sagemaker_operator.status import Outcome


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


class WaitingForModel(Waiting):
    """A referenced SageMakerModel is not Ready yet: the referrer waits, it is not an error."""

    reason = "WaitingForModel"


def resolved_model_name(ctx: ReconcileContext, namespace: str, ref: str, field: str) -> str:
    """The AWS name of the current revision of SageMakerModel ``ref``, for a reference at ``field`` of the spec.

    Raises SpecProblem (naming ``field``) for a model that does not exist or is being deleted, WaitingForModel for
    one that is not Ready yet.
    """
    model = ctx.store.get(ObjectRef(MODEL, namespace, ref))
    if model is None:
        raise SpecProblem(f"{field}: SageMakerModel {ref!r} does not exist in namespace {namespace!r}")
    if model.deleting:
        raise SpecProblem(f"{field}: SageMakerModel {ref!r} is being deleted")
    if not is_ready(model) or not model.status.get("modelName"):
        raise WaitingForModel(f"waiting for SageMakerModel {ref!r} to be Ready")
    return str(model.status["modelName"])


def is_ready(obj: KubeObject) -> bool:
    """Whether the object's status says its current spec is live in AWS."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in obj.status.get("conditions") or ())
    return ready and obj.status.get("observedGeneration") == obj.generation


async def reconcile_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Make the AWS model for the current spec exist, and collect old revisions nothing uses."""
    try:
        target = await ctx.target(obj)
        rendered = render_model(obj, ctx.settings.cluster_id)
    except (SpecProblem, SpecError) as problem:
        return Outcome.degraded("InvalidSpec", str(problem))
    return await reconcile_revision(ctx, obj, target, MODEL_RESOURCE, desired_model(rendered),
                                    ctx.store.aws_models_in_use())


def desired_model(rendered: RenderedModel) -> RevisionDesired:
    """The revision a rendered model asks for."""
    return RevisionDesired(rendered.name, rendered.revision, rendered.request)


async def finalize_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Delete every AWS revision once no endpoint config, inference component or running transform job references
    the model any more."""
    users = [*ctx.store.configs_referencing_model(obj.namespace, obj.name),
             *ctx.store.components_using_model(obj.namespace, obj.name),
             # A finished run is a record that no longer needs the model.
             *(j for j in ctx.store.transform_jobs_using_model(obj.namespace, obj.name)
               if not j.status.get("finished"))]
    return await finalize_revisions(ctx, obj, MODEL_RESOURCE, users)
