"""SageMakerEndpointConfig: one immutable AWS endpoint config per revision, with model references resolved.

Variant weights and instance counts are live properties of an endpoint (UpdateEndpointWeightsAndCapacities
changes them without a new fleet, and autoscaling changes counts), so they are left out of the revision hash: a
change limited to them keeps the same AWS config and is applied to endpoints directly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.model import WaitingForModel, resolved_model_name
from sagemaker_operator.reconcile.naming import content_hash, revision_name
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.reconcile.revisions import (
    CONFIG_RESOURCE,
    RevisionDesired,
    finalize_revisions,
    reconcile_revision,
)
from sagemaker_operator.status import Outcome

VARIANT_GROUPS = ("productionVariants", "shadowProductionVariants")
LIVE_VARIANT_MEMBERS = ("InitialVariantWeight", "InitialInstanceCount")


@dataclass(frozen=True)
class VariantTarget:
    """The live properties the spec asks of one production variant."""

    variant_name: str
    weight: float | None
    instance_count: int | None


@dataclass(frozen=True)
class RenderedConfig:
    """The CreateEndpointConfig request for one spec, its revision name, and the models it uses."""

    name: str
    revision: str
    request: dict[str, Any]
    model_names: tuple[str, ...]
    variants: tuple[VariantTarget, ...]


def resolve_model_names(ctx: ReconcileContext, obj: KubeObject) -> dict[str, str]:
    """AWS model name of every SageMakerModel the spec references (modelRef name -> AWS name).

    Raises SpecProblem for a reference to nothing, WaitingForModel for a model that is not Ready yet.
    """
    resolved: dict[str, str] = {}
    for group in VARIANT_GROUPS:
        for index, variant in enumerate(obj.spec.get(group) or ()):
            ref = (variant.get("modelRef") or {}).get("name")
            if not ref:
                continue
            if variant.get("modelName"):
                raise SpecProblem(f"spec.{group}[{index}]: set modelRef or modelName, not both")
            resolved[str(ref)] = resolved_model_name(ctx, obj.namespace, str(ref),
                                                     f"spec.{group}[{index}].modelRef.name")
    return resolved


def render_config(obj: KubeObject, cluster_id: str, model_names: Mapping[str, str]) -> RenderedConfig:
    """The exact CreateEndpointConfig request (without tags) for ``obj``'s spec; pure."""
    spec = copy.deepcopy(dict(obj.spec))
    for group in VARIANT_GROUPS:
        for variant in spec.get(group) or ():
            ref = (variant.pop("modelRef", None) or {}).get("name")
            if ref:
                variant["modelName"] = model_names[str(ref)]
    body = kinds.ENDPOINT_CONFIG.request(spec)
    identity = copy.deepcopy(body)
    for variant in identity.get("ProductionVariants") or ():
        for member in LIVE_VARIANT_MEMBERS:
            variant.pop(member, None)
    digest = content_hash({"owner": [cluster_id, obj.namespace, obj.name], "request": identity})
    name = revision_name(obj.name, digest)
    used = sorted({str(v["ModelName"]) for g in ("ProductionVariants", "ShadowProductionVariants")
                   for v in body.get(g) or () if v.get("ModelName")})
    variants = tuple(
        VariantTarget(str(v["VariantName"]), v.get("InitialVariantWeight"), v.get("InitialInstanceCount"))
        for v in body.get("ProductionVariants") or ())
    return RenderedConfig(name=name, revision=digest, request={"EndpointConfigName": name, **body},
                          model_names=tuple(used), variants=variants)


async def reconcile_endpoint_config(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Make the AWS endpoint config for the current spec exist, and collect old revisions nothing uses."""
    try:
        target = await ctx.target(obj)
        rendered = render_config(obj, ctx.settings.cluster_id, resolve_model_names(ctx, obj))
    except (SpecProblem, SpecError) as problem:
        return ctx.spec_problem_outcome(obj, problem)
    except WaitingForModel as waiting:
        return ctx.waiting_outcome(obj, waiting)
    return await reconcile_revision(ctx, obj, target, CONFIG_RESOURCE, desired_config(rendered),
                                    ctx.store.aws_configs_in_use())


def desired_config(rendered: RenderedConfig) -> RevisionDesired:
    """The revision a rendered config asks for; the models it uses are recorded with it."""
    models = list(rendered.model_names)
    return RevisionDesired(rendered.name, rendered.revision, rendered.request, history_extra={"modelNames": models},
                           fields={"modelNames": models})


async def finalize_endpoint_config(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Delete every AWS revision once no SageMakerEndpoint references the config any more."""
    return await finalize_revisions(ctx, obj, CONFIG_RESOURCE,
                                    ctx.store.endpoints_referencing_config(obj.namespace, obj.name))
