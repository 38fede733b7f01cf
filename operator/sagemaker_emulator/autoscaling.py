"""Application Auto Scaling (``AnyScaleFrontendService``) for SageMaker resources.

Supports the two SageMaker hosting dimensions:

* ``endpoint/NAME/variant/VARIANT`` with ``sagemaker:variant:DesiredInstanceCount``;
* ``inference-component/NAME`` with ``sagemaker:inference-component:DesiredCopyCount``.

The resource must exist when a target is registered. Policies (target tracking with predefined or
customized metrics, step scaling) need a registered target; deregistering a target deletes its
policies, as AWS does. No scaling activity is simulated.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any, cast

from .lifecycle import now
from .protocol import AwsError, RequestContext, validation_error
from .sagemaker_ops import SageMakerService, paginate
from .store import (
    ENDPOINT,
    INFERENCE_COMPONENT,
    SCALABLE_TARGET,
    SCALING_POLICY,
    Endpoint,
    ScalableTarget,
    ScalingPolicy,
)

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

DIMENSIONS = {
    "sagemaker:variant:DesiredInstanceCount": "endpoint",
    "sagemaker:inference-component:DesiredCopyCount": "inference-component",
}


def _target_id() -> str:
    """36 lower-case alphanumerics, like AWS's scalable-target ids (``0ec4e2b8...``)."""
    return secrets.token_hex(18)


def _key(resource_id: str, dimension: str, policy: str | None = None) -> str:
    return f"{resource_id}|{dimension}" + (f"|{policy}" if policy is not None else "")


def _not_registered(p: dict[str, Any]) -> AwsError:
    return AwsError(
        "ObjectNotFoundException",
        f"No scalable target registered for service namespace: {p['ServiceNamespace']}, resource ID: "
        f"{p['ResourceId']}, scalable dimension: {p['ScalableDimension']}",
    )


class AutoScalingService:
    """Operation handlers for the ``AnyScaleFrontendService`` target prefix."""

    def __init__(self, sagemaker: SageMakerService) -> None:
        self.sagemaker = sagemaker
        self.store = sagemaker.store
        self.handlers: dict[str, Handler] = {
            "RegisterScalableTarget": self.register,
            "DescribeScalableTargets": self.describe_targets,
            "DeregisterScalableTarget": self.deregister,
            "PutScalingPolicy": self.put_policy,
            "DescribeScalingPolicies": self.describe_policies,
            "DeleteScalingPolicy": self.delete_policy,
            "DescribeScalingActivities": self.describe_activities,
        }

    def describe_activities(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeScalingActivities: no scaling activity ever happens in the emulator (capacity changes only
        through the SageMaker calls), so the answer is AWS's answer for a target without activities: an empty
        list, for any namespace, resource or dimension."""
        return {"ScalingActivities": []}

    def _check_resource(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        if p["ServiceNamespace"] != "sagemaker":
            raise validation_error(
                f"The emulator only supports service namespace sagemaker, not {p['ServiceNamespace']}."
            )
        dimension, resource_id = p["ScalableDimension"], p["ResourceId"]
        expected = DIMENSIONS.get(dimension)
        parts = resource_id.split("/")
        if expected is None or parts[0] != expected:
            raise validation_error(f"Unsupported scalable dimension {dimension} for resource {resource_id}.")
        if expected == "endpoint":
            if len(parts) != 4 or parts[2] != "variant":
                raise validation_error(
                    f"Unsupported resource ID {resource_id}: expected endpoint/NAME/variant/VARIANT."
                )
            ep = self.sagemaker.find(ctx, ENDPOINT, parts[1])
            if ep is None:
                raise validation_error(f"The endpoint '{parts[1]}' does not exist.")
            fleet = cast(Endpoint, ep).fleet
            if fleet is None or parts[3].lower() not in {v.name.lower() for v in fleet.variants}:
                raise validation_error(f"The variant '{parts[3]}' does not exist in endpoint '{parts[1]}'.")
        else:
            if len(parts) != 2:
                raise validation_error(f"Unsupported resource ID {resource_id}: expected inference-component/NAME.")
            if self.sagemaker.find(ctx, INFERENCE_COMPONENT, parts[1]) is None:
                raise validation_error(f"The inference component '{parts[1]}' does not exist.")

    def register(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """RegisterScalableTarget: creates, or updates the capacities of an existing target."""
        self._check_resource(ctx, p)
        key = _key(p["ResourceId"], p["ScalableDimension"])
        target = cast(ScalableTarget | None, self.store.get(ctx.account, ctx.region, SCALABLE_TARGET, key))
        if target is None:
            if p.get("MinCapacity") is None or p.get("MaxCapacity") is None:
                raise validation_error("MinCapacity and MaxCapacity are required to register a new scalable target.")
            t = now()
            target = ScalableTarget(
                kind=SCALABLE_TARGET,
                name=key,
                arn=f"arn:aws:application-autoscaling:{ctx.region}:{ctx.account}:scalable-target/{_target_id()}",
                account=ctx.account,
                region=ctx.region,
                created=t,
                modified=t,
                resource_id=p["ResourceId"],
                dimension=p["ScalableDimension"],
                role_arn=p.get("RoleARN")
                or f"arn:aws:iam::{ctx.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            )
        low = p.get("MinCapacity", target.min_capacity)
        high = p.get("MaxCapacity", target.max_capacity)
        if low > high:
            raise validation_error(f"Minimum capacity {low} cannot be greater than maximum capacity {high}.")
        if low < 0:
            raise validation_error("Minimum capacity cannot be negative.")
        target.min_capacity, target.max_capacity = low, high
        if p.get("SuspendedState") is not None:
            target.suspended = p["SuspendedState"]
        if p.get("Tags"):
            target.set_tags({**target.tags, **p["Tags"]})
        self.store.put(target, key)
        return {"ScalableTargetARN": target.arn}

    def describe_targets(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeScalableTargets filtered by ResourceIds and ScalableDimension."""
        targets = [cast(ScalableTarget, t) for t in self.store.items(ctx.account, ctx.region, SCALABLE_TARGET)]
        if p.get("ResourceIds"):
            wanted = set(p["ResourceIds"])
            targets = [t for t in targets if t.resource_id in wanted]
        if p.get("ScalableDimension"):
            targets = [t for t in targets if t.dimension == p["ScalableDimension"]]
        if p["ServiceNamespace"] != "sagemaker":
            targets = []
        targets.sort(key=lambda t: t.created)
        page, token = paginate(targets, p, default_max=50)
        out = [
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": t.resource_id,
                "ScalableDimension": t.dimension,
                "MinCapacity": t.min_capacity,
                "MaxCapacity": t.max_capacity,
                "RoleARN": t.role_arn,
                "CreationTime": t.created,
                "SuspendedState": t.suspended
                or {
                    "DynamicScalingInSuspended": False,
                    "DynamicScalingOutSuspended": False,
                    "ScheduledScalingSuspended": False,
                },
                "ScalableTargetARN": t.arn,
            }
            for t in page
        ]
        return {"ScalableTargets": out, **({"NextToken": token} if token else {})}

    def deregister(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeregisterScalableTarget; its scaling policies go with it."""
        key = _key(p["ResourceId"], p["ScalableDimension"])
        target = self.store.get(ctx.account, ctx.region, SCALABLE_TARGET, key)
        if target is None or p["ServiceNamespace"] != "sagemaker":
            raise _not_registered(p)
        self.sagemaker.remove_scalable_target(cast(ScalableTarget, target))
        return {}

    def put_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """PutScalingPolicy (create or replace) for a registered target."""
        key = _key(p["ResourceId"], p["ScalableDimension"])
        if (
            self.store.get(ctx.account, ctx.region, SCALABLE_TARGET, key) is None
            or p["ServiceNamespace"] != "sagemaker"
        ):
            raise _not_registered(p)
        policy_type = p.get("PolicyType", "StepScaling")
        config_key = {
            "TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
            "StepScaling": "StepScalingPolicyConfiguration",
            "PredictiveScaling": "PredictiveScalingPolicyConfiguration",
        }[policy_type]
        config = p.get(config_key)
        if not config:
            raise validation_error(f"{config_key} is required for a policy of type {policy_type}.")
        if policy_type == "TargetTrackingScaling":
            predefined = config.get("PredefinedMetricSpecification")
            customized = config.get("CustomizedMetricSpecification")
            if bool(predefined) == bool(customized):
                raise validation_error(
                    "Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification must be specified."
                )
            if predefined and not predefined["PredefinedMetricType"].startswith("SageMaker"):
                raise validation_error(
                    f"Predefined metric {predefined['PredefinedMetricType']} is not supported for SageMaker resources."
                )
        policy_key = _key(p["ResourceId"], p["ScalableDimension"], p["PolicyName"])
        existing = cast(ScalingPolicy | None, self.store.get(ctx.account, ctx.region, SCALING_POLICY, policy_key))
        t = now()
        resource = p["ResourceId"]
        arn = (
            existing.arn
            if existing
            else f"arn:aws:autoscaling:{ctx.region}:{ctx.account}:scalingPolicy:{uuid.uuid4()}:"
            f"resource/sagemaker/{resource}:policyName/{p['PolicyName']}"
        )
        alarms = []
        if policy_type == "TargetTrackingScaling":
            for suffix in ("AlarmHigh", "AlarmLow"):
                name = f"TargetTracking-{resource}-{suffix}-{uuid.uuid4()}"
                alarms.append(
                    {"AlarmName": name, "AlarmARN": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{name}"}
                )
        policy = ScalingPolicy(
            kind=SCALING_POLICY,
            name=policy_key,
            arn=arn,
            account=ctx.account,
            region=ctx.region,
            created=existing.created if existing else t,
            modified=t,
            policy_name=p["PolicyName"],
            resource_id=resource,
            dimension=p["ScalableDimension"],
            policy_type=policy_type,
            config={config_key: config},
            alarms=alarms,
        )
        self.store.put(policy, policy_key)
        return {"PolicyARN": arn, "Alarms": alarms}

    def describe_policies(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeScalingPolicies filtered by PolicyNames, ResourceId and ScalableDimension."""
        policies = [cast(ScalingPolicy, q) for q in self.store.items(ctx.account, ctx.region, SCALING_POLICY)]
        if p["ServiceNamespace"] != "sagemaker":
            policies = []
        if p.get("PolicyNames"):
            policies = [q for q in policies if q.policy_name in set(p["PolicyNames"])]
        if p.get("ResourceId"):
            policies = [q for q in policies if q.resource_id == p["ResourceId"]]
        if p.get("ScalableDimension"):
            policies = [q for q in policies if q.dimension == p["ScalableDimension"]]
        policies.sort(key=lambda q: q.created)
        page, token = paginate(policies, p, default_max=50)
        out = [
            {
                "PolicyARN": q.arn,
                "PolicyName": q.policy_name,
                "ServiceNamespace": "sagemaker",
                "ResourceId": q.resource_id,
                "ScalableDimension": q.dimension,
                "PolicyType": q.policy_type,
                **q.config,
                "Alarms": q.alarms,
                "CreationTime": q.created,
            }
            for q in page
        ]
        return {"ScalingPolicies": out, **({"NextToken": token} if token else {})}

    def delete_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteScalingPolicy."""
        key = _key(p["ResourceId"], p["ScalableDimension"], p["PolicyName"])
        policy = self.store.get(ctx.account, ctx.region, SCALING_POLICY, key)
        if policy is None or p["ServiceNamespace"] != "sagemaker":
            raise AwsError(
                "ObjectNotFoundException",
                f"No scaling policy found for service namespace: {p['ServiceNamespace']}, resource ID: "
                f"{p['ResourceId']}, scalable dimension: {p['ScalableDimension']}, policy name: {p['PolicyName']}",
            )
        self.store.remove(policy, key)
        return {}
