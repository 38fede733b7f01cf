"""Application Auto Scaling of production variants (instance count) and inference components (copy count).

The spec's ``autoscaling`` becomes scalable targets and scaling policies. What is registered is recorded in status
with a digest of the desired state, so that an unchanged spec costs no Application Auto Scaling call at all: the
targets are re-applied only when the spec changes or the endpoint moved to another config (an update).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api.convert import to_aws
from sagemaker_operator.api.kinds import autoscaling_model
from sagemaker_operator.reconcile.actions import Call
from sagemaker_operator.reconcile.context import SpecProblem
from sagemaker_operator.reconcile.naming import content_hash

SERVICE = "application-autoscaling"
NAMESPACE = "sagemaker"
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
COMPONENT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


@dataclass(frozen=True)
class ScalingTarget:
    """One scalable target and its policies, as Application Auto Scaling wants them."""

    label: str  # the variant or component name, for status
    resource_id: str
    dimension: str
    min_capacity: int
    max_capacity: int
    policies: tuple[Mapping[str, Any], ...]  # PutScalingPolicy members other than namespace/resource/dimension

    def as_status(self) -> dict[str, Any]:
        """How status reports this target."""
        return {"name": self.label, "resourceId": self.resource_id, "scalableDimension": self.dimension,
                "minCapacity": self.min_capacity, "maxCapacity": self.max_capacity,
                "policies": [str(p["PolicyName"]) for p in self.policies]}


def variant_resource_id(endpoint_name: str, variant_name: str) -> str:
    """Application Auto Scaling's ResourceId of a production variant."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def component_resource_id(component_name: str) -> str:
    """Application Auto Scaling's ResourceId of an inference component."""
    return f"inference-component/{component_name}"


def _policies(field: str, policies: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    model = autoscaling_model()
    rendered = []
    names: set[str] = set()
    for index, policy in enumerate(policies):
        name = str(policy.get("policyName", ""))
        if name in names:
            raise SpecProblem(f"{field}[{index}].policyName: {name!r} is used twice")
        names.add(name)
        request: dict[str, Any] = {"PolicyName": name}
        if policy.get("targetTracking") is not None:
            request["PolicyType"] = "TargetTrackingScaling"
            request["TargetTrackingScalingPolicyConfiguration"] = to_aws(
                model.shape_for("TargetTrackingScalingPolicyConfiguration"), policy["targetTracking"],
                path=f"{field}[{index}].targetTracking")
        elif policy.get("stepScaling") is not None:
            request["PolicyType"] = "StepScaling"
            request["StepScalingPolicyConfiguration"] = to_aws(
                model.shape_for("StepScalingPolicyConfiguration"), policy["stepScaling"],
                path=f"{field}[{index}].stepScaling")
        else:
            raise SpecProblem(f"{field}[{index}]: set targetTracking or stepScaling")
        rendered.append(request)
    return tuple(rendered)


def _range(field: str, low: int, high: int) -> None:
    if low > high:
        raise SpecProblem(f"{field}: the minimum ({low}) is above the maximum ({high})")


def endpoint_targets(endpoint_name: str, autoscaling: Sequence[Mapping[str, Any]],
                     variant_names: Sequence[str] | None) -> list[ScalingTarget]:
    """The scalable targets an endpoint spec asks for; ``variant_names`` (if known) are checked against."""
    targets = []
    for index, entry in enumerate(autoscaling):
        field = f"spec.autoscaling[{index}]"
        variant = str(entry["variantName"])
        if variant_names is not None and variant not in variant_names:
            raise SpecProblem(f"{field}.variantName: the endpoint config has no production variant {variant!r} "
                              f"(it has {', '.join(variant_names) or 'none'})")
        low, high = int(entry["minCapacity"]), int(entry["maxCapacity"])
        _range(field, low, high)
        targets.append(ScalingTarget(variant, variant_resource_id(endpoint_name, variant), VARIANT_DIMENSION, low,
                                     high, _policies(f"{field}.policies", entry.get("policies") or [])))
    return targets


def component_targets(component_name: str, autoscaling: Mapping[str, Any] | None) -> list[ScalingTarget]:
    """The scalable target an inference component spec asks for (none without ``autoscaling``)."""
    if not autoscaling:
        return []
    low, high = int(autoscaling["minCopies"]), int(autoscaling["maxCopies"])
    _range("spec.autoscaling", low, high)
    return [ScalingTarget(component_name, component_resource_id(component_name), COMPONENT_DIMENSION, low, high,
                          _policies("spec.autoscaling.policies", autoscaling.get("policies") or []))]


def digest(targets: Sequence[ScalingTarget], context: str) -> str:
    """A digest of the desired scaling plus ``context`` (the config the endpoint runs): when it is unchanged and
    recorded in status, nothing needs to be applied."""
    return content_hash({"context": context, "targets": [
        [t.resource_id, t.dimension, t.min_capacity, t.max_capacity, list(t.policies)] for t in targets]})


def apply_calls(desired: Sequence[ScalingTarget], recorded: Sequence[Mapping[str, Any]],
                policies: Mapping[str, Sequence[str]]) -> tuple[Call, ...]:
    """The calls that make Application Auto Scaling match ``desired``: deregister the recorded targets that left the
    spec, register each target, delete the policies (``policies``: observed names per resource id) it no longer
    has and put its policies. Pure."""
    wanted = {t.resource_id for t in desired}
    calls = [_deregister(old) for old in recorded if old.get("resourceId") not in wanted]
    for scaling in desired:
        where = {"ServiceNamespace": NAMESPACE, "ResourceId": scaling.resource_id,
                 "ScalableDimension": scaling.dimension}
        calls.append(Call("RegisterScalableTarget", {**where, "MinCapacity": scaling.min_capacity,
                                                     "MaxCapacity": scaling.max_capacity}, service=SERVICE))
        keep = {str(p["PolicyName"]) for p in scaling.policies}
        calls += [Call("DeleteScalingPolicy", {**where, "PolicyName": name}, service=SERVICE)
                  for name in policies.get(scaling.resource_id, ()) if name not in keep]
        calls += [Call("PutScalingPolicy", {**where, **policy}, service=SERVICE) for policy in scaling.policies]
    return tuple(calls)


def removal_calls(recorded: Sequence[Mapping[str, Any]]) -> tuple[Call, ...]:
    """Deregister every recorded target (its policies go with it). Pure."""
    return tuple(_deregister(old) for old in recorded)


def _deregister(recorded: Mapping[str, Any]) -> Call:
    # Already gone is fine: SageMaker deregisters the targets of deleted endpoints itself.
    return Call("DeregisterScalableTarget", {"ServiceNamespace": NAMESPACE, "ResourceId": str(recorded["resourceId"]),
                                             "ScalableDimension": str(recorded["scalableDimension"])},
                service=SERVICE, missing_ok=True)
