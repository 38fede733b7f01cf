"""SageMakerModel: one immutable AWS model per spec revision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.reconcile.artifacts import (
    ArtifactIdentity,
    ArtifactUnreadable,
    artifact_refs,
    pin,
    tracking_enabled,
)
from sagemaker_operator.reconcile.artifacts import observe as observe_artifacts
from sagemaker_operator.reconcile.context import MissingReference, ReconcileContext, SpecProblem, Waiting, settling
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.naming import content_hash, revision_name
from sagemaker_operator.reconcile.objects import MODEL, KubeObject, ObjectRef
from sagemaker_operator.reconcile.revisions import (
    MODEL_RESOURCE,
    RevisionDesired,
    finalize_revisions,
    reconcile_revision,
)
from sagemaker_operator.status import EventRecord, Outcome, State


@dataclass(frozen=True)
class RenderedModel:
    """The CreateModel request for one spec, and the revision name it gets."""

    name: str
    revision: str
    request: dict[str, Any]
    artifacts: tuple[ArtifactIdentity, ...] = ()


def render_model(obj: KubeObject, cluster_id: str, artifacts: Sequence[ArtifactIdentity] = ()) -> RenderedModel:
    """The exact CreateModel request (without tags) for ``obj``'s spec; pure.

    The hash covers the owner too, so equal specs in two namespaces or clusters never collide on one AWS name.
    With artifact tracking, the artifacts' identities are part of the revision (an overwritten file is a new
    revision) and their ETags are pinned where the request takes them; without, the name is what it always was.
    """
    body = kinds.MODEL.request(obj.spec)
    identity: dict[str, Any] = {"owner": [cluster_id, obj.namespace, obj.name], "request": body}
    if artifacts:
        identity["artifacts"] = [a.as_status() for a in artifacts]
        body = pin(body, artifacts)
    digest = content_hash(identity)
    name = revision_name(obj.name, digest)
    return RenderedModel(name=name, revision=digest, request={"ModelName": name, **body},
                         artifacts=tuple(artifacts))


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
        raise MissingReference(f"{field}: SageMakerModel {ref!r} does not exist in namespace {namespace!r}")
    if model.deleting:
        raise SpecProblem(f"{field}: SageMakerModel {ref!r} is being deleted")
    if not (is_ready(model) or serves_despite_artifacts(model)) or not model.status.get("modelName"):
        raise WaitingForModel(f"waiting for SageMakerModel {ref!r} to be Ready", settling=settling(model))
    return str(model.status["modelName"])


ARTIFACT_REASONS = frozenset({"ArtifactUnreadable", "ArtifactMissing", "ArtifactTooLarge"})


def serves_despite_artifacts(model: KubeObject) -> bool:
    """Whether the model is Degraded only because its artifacts cannot be checked: its current revision still
    exists in AWS and is what its users keep running."""
    return any(c.get("type") == "Degraded" and c.get("status") == "True" and c.get("reason") in ARTIFACT_REASONS
               for c in model.status.get("conditions") or ())


def is_ready(obj: KubeObject) -> bool:
    """Whether the object's status says its current spec is live in AWS."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in obj.status.get("conditions") or ())
    return ready and obj.status.get("observedGeneration") == obj.generation


async def model_artifacts(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, *, due: bool
                          ) -> tuple[ArtifactIdentity, ...]:
    """The identities of the model's artifacts when tracking is on (none when off): read from S3 when ``due``, else
    the ones status recorded for the current revision. Raises ArtifactUnreadable."""
    if not tracking_enabled(obj.spec, ctx.settings.artifact_tracking):
        return ()
    recorded = tuple(ArtifactIdentity.from_status(a) for a in obj.status.get("artifacts") or ())
    if recorded and not due:
        return recorded
    return tuple(await observe_artifacts(ctx.gateway, target, artifact_refs(kinds.MODEL.request(obj.spec))))


async def reconcile_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Make the AWS model for the current spec (and, with tracking, its artifacts) exist, and collect old revisions
    nothing uses."""
    tracking = tracking_enabled(obj.spec, ctx.settings.artifact_tracking)
    spec_changed = obj.status.get("observedGeneration") != obj.generation
    try:
        target = await ctx.target(obj)
        # A model Degraded by its artifact check is read again on every pass, not reported Ready from what status
        # recorded before S3 refused.
        due = tracking and ctx.artifact_check_due(obj.ref, force=spec_changed or serves_despite_artifacts(obj))
        artifacts = await model_artifacts(ctx, target, obj, due=due)
        rendered = render_model(obj, ctx.settings.cluster_id, artifacts)
    except (SpecProblem, SpecError) as problem:
        return Outcome.degraded("InvalidSpec", str(problem))
    except ArtifactUnreadable as unreadable:
        # The current revision keeps serving; the check is repeated at its own pace.
        return Outcome.degraded(unreadable.reason, str(unreadable),
                                requeue_after=ctx.settings.artifact_check_seconds)
    except AwsFailure as failure:
        return failure_outcome(failure, "reading the model's artifacts")
    outcome = await reconcile_revision(ctx, obj, target, MODEL_RESOURCE, desired_model(rendered),
                                       ctx.store.aws_models_in_use())
    if tracking:
        outcome.fields["artifacts"] = [a.as_status() for a in artifacts]
        outcome.requeue_after = ctx.seconds_until_artifact_check(obj.ref)
        before = {a.uri: a for a in (ArtifactIdentity.from_status(e) for e in obj.status.get("artifacts") or ())}
        changes = [a.change_from(before[a.uri]) for a in artifacts if a.uri in before and a != before[a.uri]]
        if changes and not spec_changed and outcome.state is State.READY:
            outcome.events.insert(0, EventRecord("ArtifactChanged", "Artifact changed: " + "; ".join(changes)
                                                 + f": new model revision {rendered.name}", warning=True))
    elif obj.status.get("artifacts"):
        outcome.fields["artifacts"] = None
    return outcome


def desired_model(rendered: RenderedModel) -> RevisionDesired:
    """The revision a rendered model asks for; the artifacts it was built from are recorded with it."""
    extra = {"artifacts": [a.as_status() for a in rendered.artifacts]} if rendered.artifacts else {}
    return RevisionDesired(rendered.name, rendered.revision, rendered.request, history_extra=extra)


async def finalize_model(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Delete every AWS revision once no endpoint config, inference component or running transform job references
    the model any more."""
    users = [*ctx.store.configs_referencing_model(obj.namespace, obj.name),
             *ctx.store.components_using_model(obj.namespace, obj.name),
             # A finished run is a record that no longer needs the model.
             *(j for j in ctx.store.transform_jobs_using_model(obj.namespace, obj.name)
               if not j.status.get("finished"))]
    return await finalize_revisions(ctx, obj, MODEL_RESOURCE, users)
