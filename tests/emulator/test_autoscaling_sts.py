"""Application Auto Scaling rules, STS attribution, denied roles and expired credentials."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ROLE, client, error_of, make_endpoint

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.protocol import AwsError, RequestContext
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


def _assumed(emulator: EmulatorThread, role: str, **params: Any) -> dict[str, str]:
    creds = client(emulator, "sts").assume_role(RoleArn=role, RoleSessionName="op", **params)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def test_denied_role_answers_access_denied_until_allowed(emulator: EmulatorThread, admin: AdminClient) -> None:
    role, other = "arn:aws:iam::111122223333:role/deployer", "arn:aws:iam::111122223333:role/other"
    before = _assumed(emulator, role)
    assert admin.deny_assume_role(role)["denied_roles"] == [role]
    sts = client(emulator, "sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role, RoleSessionName="op")
    code, message, status = error_of(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == ("User: arn:aws:iam::123456789012:user/emulator is not authorized to perform: sts:AssumeRole "
                       f"on resource: {role}")
    _assumed(emulator, other)  # only that role is denied
    # Credentials issued before the denial stay valid until they expire, as on AWS.
    client(emulator, "sagemaker", **before).list_models()
    admin.allow_assume_role(role)
    _assumed(emulator, role)
    assert admin.credentials()["denied_roles"] == []
    assert admin.counters()["errors"] == {"AccessDenied": 1}


def test_expired_credentials_are_refused_by_every_service(emulator: EmulatorThread, admin: AdminClient) -> None:
    role, other = "arn:aws:iam::111122223333:role/deployer", "arn:aws:iam::111122223333:role/other"
    creds, kept = _assumed(emulator, role), _assumed(emulator, other)
    client(emulator, "sagemaker", **creds).list_models()
    assert admin.expire_credentials(role_arn=role) == 1
    for service, call, code in (("sagemaker", "list_models", "ExpiredTokenException"),
                                ("application-autoscaling", "describe_scalable_targets", "ExpiredTokenException"),
                                ("sts", "get_caller_identity", "ExpiredToken")):
        api = client(emulator, service, **creds)
        params = {"ServiceNamespace": "sagemaker"} if service == "application-autoscaling" else {}
        with pytest.raises(ClientError) as exc:
            getattr(api, call)(**params)
        assert error_of(exc) == (code, "The security token included in the request is expired", 400), service
    runtime = client(emulator, "sagemaker-runtime", **creds)
    with pytest.raises(ClientError) as exc:
        runtime.invoke_endpoint(EndpointName="nothing", Body=b"{}")
    assert error_of(exc)[0] == "ExpiredTokenException"
    client(emulator, "sagemaker", **kept).list_models()  # another role's credentials are untouched
    client(emulator, "sagemaker", **_assumed(emulator, role)).list_models()  # a new AssumeRole works again
    issued = admin.credentials()["issued"]
    assert sorted(i["expired"] for i in issued) == [False, False, True]
    assert all("Secret" not in key and "Token" not in key for entry in issued for key in entry)


def test_default_caller_key_can_be_expired_and_issued_credentials_expire_on_time(
        emulator: EmulatorThread, admin: AdminClient) -> None:
    # The shortest session AWS allows is 900 s: rather than wait, ask the check that every request passes through
    # about a moment just before and at the expiration.
    creds = _assumed(emulator, "arn:aws:iam::111122223333:role/deployer", DurationSeconds=900)
    identity = emulator.emulator.sts.identify(creds["aws_access_key_id"])
    assert identity is not None
    client(emulator, "sagemaker", **creds).list_models()
    ctx = RequestContext(service="sagemaker", operation="ListModels", region="us-east-1", account="111122223333",
                         access_key=creds["aws_access_key_id"])
    emulator.emulator.sts.check(ctx, identity.expires - 1)
    with pytest.raises(AwsError) as refused:
        emulator.emulator.sts.check(ctx, identity.expires)
    assert refused.value.code == "ExpiredTokenException"
    sagemaker = client(emulator, "sagemaker")
    sagemaker.list_models()
    assert admin.expire_credentials(access_key="AKIAEMULATORTEST") == 1
    with pytest.raises(ClientError) as exc:
        sagemaker.list_models()
    assert error_of(exc)[0] == "ExpiredTokenException"
    client(emulator, "sagemaker", aws_access_key_id="AKIAOTHER", aws_secret_access_key="s").list_models()
    admin.reset()
    assert admin.credentials() == {"denied_roles": [], "denied_buckets": [], "expired_keys": 0, "issued": []}
    sagemaker.list_models()  # reset forgets expired keys


def test_revoked_sessions_are_denied_and_a_new_session_works(emulator: EmulatorThread, admin: AdminClient) -> None:
    role = "arn:aws:iam::111122223333:role/deployer"
    old = _assumed(emulator, role)
    assert admin.revoke_sessions(role) == 1
    with pytest.raises(ClientError) as exc:
        client(emulator, "sagemaker", **old).list_models()
    assert error_of(exc) == ("AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/deployer/op is "
                             "not authorized to perform: sagemaker:ListModels with an explicit deny in an "
                             "identity-based policy", 400)
    with pytest.raises(ClientError) as exc:  # no role chaining from a revoked session either
        client(emulator, "sts", **old).assume_role(RoleArn=role, RoleSessionName="again")
    assert error_of(exc)[0::2] == ("AccessDenied", 403)
    # STS answers GetCallerIdentity to anyone, even under an explicit deny.
    assert client(emulator, "sts", **old).get_caller_identity()["Account"] == "111122223333"
    client(emulator, "sagemaker", **_assumed(emulator, role)).list_models()
    assert [i["revoked"] for i in admin.credentials()["issued"]] == [True, False]
