"""SageMaker Runtime: InvokeEndpoint (and InvokeEndpointAsync) routing.

Invocation behaviour (documented in docs/emulator.md): the emulator does not run containers. It
picks the fleet and variant that would serve the request on AWS and answers ``200`` with
``Content-Type: application/json``, header ``x-Amzn-Invoked-Production-Variant: VARIANT`` and a
body describing who served it::

    {"endpoint": "ep", "endpoint_config": "cfg-v2", "variant": "AllTraffic", "model": "m2",
     "image": "123.dkr.ecr.../img:2", "inference_component": null, "input": <request body>}

``input`` is the request body parsed as JSON when it is JSON, else decoded as UTF-8 text (or
base64 for binary). Routing:

* while an update or traffic shift is in progress on an endpoint that was InService, the old
  fleet keeps serving and the new one takes the share the deployment has shifted so far (canary,
  linear, rolling), so invocations never fail during updates; after UpdateRollbackFailed both
  fleets keep serving in the proportion they had when the rollback began;
* within a fleet, variants are picked at random in proportion to their current weights;
  ``TargetVariant`` picks one explicitly (from either fleet during a shift);
* ``InferenceComponentName`` routes to that component (old or new specification during its
  rolling update); an endpoint hosting inference components requires it.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any, cast

from .lifecycle import UPDATE, now
from .protocol import AwsError, RequestContext
from .sagemaker_ops import SageMakerService
from .store import ENDPOINT, INFERENCE_COMPONENT, MODEL, Endpoint, Fleet, InferenceComponent, Model, Variant

# Statuses in which an endpoint that has been InService takes invocations.
SERVING = ("InService", "Updating", "UpdateRollbackFailed")


def runtime_error(message: str) -> AwsError:
    """SageMaker Runtime's client error: code ``ValidationError`` (not ...Exception), HTTP 400."""
    return AwsError("ValidationError", message)


def _input_value(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return body.decode()
    except UnicodeDecodeError:
        return base64.b64encode(body).decode()


def answer_document(
    body: bytes,
    *,
    endpoint: str | None,
    endpoint_config: str | None,
    variant: str | None,
    model: str | None,
    image: str | None,
    inference_component: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What the emulated model answers to ``body``: who served the request, and the input it read.

    InvokeEndpoint and batch transform (one record at a time) answer with this document.
    """
    return {
        "endpoint": endpoint,
        "endpoint_config": endpoint_config,
        "variant": variant,
        "model": model,
        "image": image,
        "inference_component": inference_component,
        **extra,
        "input": _input_value(body),
    }


class RuntimeService:
    """Resolves which fleet/variant/component serves an invocation."""

    def __init__(self, sagemaker: SageMakerService, rng: random.Random | None = None) -> None:
        self.sagemaker = sagemaker
        self.rng = rng or random.Random()

    def invoke(
        self,
        ctx: RequestContext,
        endpoint_name: str,
        body: bytes,
        target_variant: str | None = None,
        component: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Return ``(variant_name, response_document)`` or raise the AWS runtime error."""
        store = self.sagemaker.store
        ep = self.serving_endpoint(ctx, endpoint_name)
        fleet, other = self._pick_fleet(ep)
        components = [
            cast(InferenceComponent, ic)
            for ic in store.items(ctx.account, ctx.region, INFERENCE_COMPONENT)
            if cast(InferenceComponent, ic).endpoint_name.lower() == ep.name.lower()
        ]
        if component:
            return self._invoke_component(ctx, ep, component, body)
        if components or all(v.model_name is None for v in fleet.variants):
            raise runtime_error(
                "Inference Component Name header is required for endpoints to which you plan to deploy "
                "inference components. Please include Inference Component Name header or consider using "
                "SageMaker models."
            )
        fleet, variant = self._pick_variant(ep, fleet, other, target_variant)
        doc = answer_document(
            body,
            endpoint=ep.name,
            endpoint_config=fleet.config_name,
            variant=variant.name,
            model=variant.model_name,
            image=variant.images[0] if variant.images else None,
        )
        return variant.name, doc

    def serving_endpoint(self, ctx: RequestContext, endpoint_name: str) -> Endpoint:
        """The endpoint an invocation names, or Runtime's ``ValidationError`` if it cannot serve."""
        ep = self.sagemaker.find(ctx, ENDPOINT, endpoint_name)
        if not isinstance(ep, Endpoint):
            raise runtime_error(f"Endpoint {endpoint_name} of account {ctx.account} not found.")
        status = self.sagemaker.status_of(ep)
        if status not in SERVING or ep.fleet is None:
            raise runtime_error(f"Endpoint {ep.arn} is not in service (status: {status}).")
        return ep

    def _pick_fleet(self, ep: Endpoint) -> tuple[Fleet, Fleet | None]:
        """(fleet serving this request, the other fleet while two serve) by the shifted share."""
        assert ep.fleet is not None
        dep = ep.deployment
        if dep is not None and dep.kind == UPDATE:
            new = cast(Fleet, dep.target["fleet"])
            share = dep.fraction(now())
        elif ep.stranded is not None:  # UpdateRollbackFailed: a mix of both fleets serves
            new, share = ep.stranded
        else:
            return ep.fleet, None
        return (new, ep.fleet) if self.rng.random() < share else (ep.fleet, new)

    def _pick_variant(
        self, ep: Endpoint, fleet: Fleet, other: Fleet | None, target: str | None
    ) -> tuple[Fleet, Variant]:
        """(fleet, variant) serving the request: ``target`` if given, else by current weights."""
        if target:
            # During a shift the target may exist in only one of the fleets; serve it from there.
            for candidate in (fleet, other) if other else (fleet,):
                for v in candidate.variants:
                    if v.name.lower() == target.lower():
                        return candidate, v
            raise runtime_error(f"Variant {target} not found for endpoint {ep.name}.")
        weights = [max(v.weight, 0.0) for v in fleet.variants]
        if sum(weights) <= 0:
            return fleet, fleet.variants[0]
        return fleet, self.rng.choices(fleet.variants, weights=weights)[0]

    def _invoke_component(
        self, ctx: RequestContext, ep: Endpoint, name: str, body: bytes
    ) -> tuple[str, dict[str, Any]]:
        store = self.sagemaker.store
        ic = store.get(ctx.account, ctx.region, INFERENCE_COMPONENT, name)
        if (
            ic is None
            or not self.sagemaker.settle_component(cast(InferenceComponent, ic))
            or cast(InferenceComponent, ic).endpoint_name.lower() != ep.name.lower()
        ):
            raise runtime_error(f"Inference Component {name} not found for endpoint {ep.name}.")
        ic = cast(InferenceComponent, ic)
        status = self.sagemaker.status_of(ic)
        if status not in ("InService", "Updating"):
            raise runtime_error(f"Inference Component {name} is not in service (status: {status}).")
        spec = ic.spec
        dep = ic.deployment
        if dep is not None and dep.kind == UPDATE and self.rng.random() < dep.fraction(now()):
            spec = cast(dict[str, Any], dep.target["spec"])
        image = (spec.get("Container") or {}).get("Image")
        if image is None and spec.get("ModelName"):
            model = store.get(ctx.account, ctx.region, MODEL, spec["ModelName"])
            if isinstance(model, Model):
                image = (model.spec.get("PrimaryContainer") or {}).get("Image")
        doc = answer_document(
            body,
            endpoint=ep.name,
            endpoint_config=ep.fleet.config_name if ep.fleet else None,
            variant=ic.variant_name,
            model=spec.get("ModelName"),
            image=image,
            inference_component=ic.name,
        )
        return ic.variant_name, doc
