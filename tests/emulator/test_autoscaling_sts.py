"""Application Auto Scaling rules and STS attribution."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ROLE, client, error_of, make_endpoint

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.server import EmulatorThread

VARIANT = "endpoint/ep/variant/AllTraffic"
DIM = "sagemaker:variant:DesiredInstanceCount"


def register(aas: Any, resource: str = VARIANT, dimension: str = DIM, low: int = 1, high: int = 4) -> None:
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=dimension,
        MinCapacity=low,
        MaxCapacity=high,
    )


def test_target_needs_existing_resource(aas: Any, sm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        register(aas)
    assert error_of(exc)[0] == "ValidationException"
    make_endpoint(sm, "ep")
    with pytest.raises(ClientError) as exc:
        register(aas, resource="endpoint/ep/variant/Nope")
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        register(aas, dimension="sagemaker:inference-component:DesiredCopyCount")
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        register(aas, low=5, high=2)
    assert error_of(exc)[0] == "ValidationException"
    register(aas)
    register(aas, high=8)  # re-registering updates the capacities
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(VARIANT, 1, 8)]


def test_policies_and_deregistration(aas: Any, sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    with pytest.raises(ClientError) as exc:
        aas.put_scaling_policy(
            PolicyName="p",
            ServiceNamespace="sagemaker",
            ResourceId=VARIANT,
            ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={"AdjustmentType": "ChangeInCapacity"},
        )
    assert error_of(exc)[0] == "ObjectNotFoundException"
    register(aas)
    common = {"ServiceNamespace": "sagemaker", "ResourceId": VARIANT, "ScalableDimension": DIM}
    aas.put_scaling_policy(
        PolicyName="predefined",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
        **common,
    )
    aas.put_scaling_policy(
        PolicyName="customized",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "CustomizedMetricSpecification": {
                "MetricName": "GPUUtilization",
                "Namespace": "/aws/sagemaker/Endpoints",
                "Statistic": "Average",
                "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
            },
        },
        **common,
    )
    aas.put_scaling_policy(
        PolicyName="step",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
            "Cooldown": 60,
        },
        **common,
    )
    with pytest.raises(ClientError) as exc:
        aas.put_scaling_policy(
            PolicyName="both",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 1.0},
            **common,
        )
    assert error_of(exc)[0] == "ValidationException"
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=VARIANT)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["predefined", "customized", "step"]
    assert len(policies[0]["Alarms"]) == 2
    aas.delete_scaling_policy(PolicyName="step", **common)
    with pytest.raises(ClientError) as exc:
        aas.delete_scaling_policy(PolicyName="step", **common)
    assert error_of(exc)[0] == "ObjectNotFoundException"
    kinds = {r["kind"] for r in admin.resources()}
    assert {"scalable-target", "scaling-policy"} <= kinds
    aas.deregister_scalable_target(**common)
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    with pytest.raises(ClientError) as exc:
        aas.deregister_scalable_target(**common)
    assert error_of(exc)[0] == "ObjectNotFoundException"


def test_inference_component_dimension(aas: Any, sm: Any) -> None:
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[{"VariantName": "main", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}],
    )
    sm.create_endpoint(EndpointName="host", EndpointConfigName="c")
    sm.create_inference_component(
        InferenceComponentName="ic",
        EndpointName="host",
        VariantName="main",
        Specification={"Container": {"Image": "img"}, "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
        RuntimeConfig={"CopyCount": 1},
    )
    register(aas, resource="inference-component/ic", dimension="sagemaker:inference-component:DesiredCopyCount", low=0)
    with pytest.raises(ClientError):
        register(aas, resource="inference-component/other", dimension="sagemaker:inference-component:DesiredCopyCount")


def test_assume_role_attributes_calls_and_switches_account(emulator: EmulatorThread, admin: AdminClient) -> None:
    sts = client(emulator, "sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"
    role = "arn:aws:iam::111122223333:role/deployer"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="op")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assumed = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    identity = client(emulator, "sts", **assumed).get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (
        "111122223333",
        "arn:aws:sts::111122223333:assumed-role/deployer/op",
    )
    other = client(emulator, "sagemaker", region="eu-west-1", **assumed)
    arn = other.create_model(ModelName="m", PrimaryContainer={"Image": "img"})["ModelArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:111122223333:model/m"
    other.describe_model(ModelName="m")
    with pytest.raises(ClientError):  # the default account in us-east-1 does not see it
        client(emulator, "sagemaker").describe_model(ModelName="m")
    counters = admin.counters()
    assert counters["callers"][role] == {"GetCallerIdentity": 1, "CreateModel": 1, "DescribeModel": 1}
    assert counters["callers"]["default"]["DescribeModel"] == 1
    snapshot = admin.resources("model")
    assert [(r["account"], r["region"]) for r in snapshot] == [("111122223333", "eu-west-1")]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn="arn:aws:iam::12:user/x", RoleSessionName="op")
    assert error_of(exc)[0] == "ValidationError"
