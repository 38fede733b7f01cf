"""Models, endpoint configs and endpoints: CRUD, errors and lifecycles, driven with plain boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import (
    ACCOUNT,
    IMAGE,
    IMAGE2,
    REGION,
    ROLE,
    error_of,
    make_config,
    make_endpoint,
    make_model,
    statuses_until,
    wait_until,
)

from sagemaker_emulator.admin import AdminClient

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"


def test_model_crud_and_errors(sm: Any) -> None:
    make_model(sm, "My-Model")
    described = sm.describe_model(ModelName="my-model")
    assert described["ModelArn"] == f"{ARN}:model/my-model"
    assert described["ModelName"] == "My-Model"
    assert described["PrimaryContainer"]["Image"] == IMAGE
    with pytest.raises(ClientError) as exc:
        make_model(sm, "My-Model")
    assert error_of(exc) == (
        "ValidationException",
        f'Cannot create already existing model "{ARN}:model/my-model".',
        400,
    )
    sm.delete_model(ModelName="My-Model")
    with pytest.raises(ClientError) as exc:
        sm.describe_model(ModelName="My-Model")
    assert error_of(exc)[:2] == ("ValidationException", f'Could not find model "{ARN}:model/my-model".')


def test_config_needs_existing_models_and_unique_variants(sm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        make_config(sm, "cfg", ("a", "absent", 1.0, 1))
    assert error_of(exc)[:2] == ("ValidationException", f'Could not find model "{ARN}:model/absent".')
    make_model(sm, "m")
    with pytest.raises(ClientError) as exc:
        make_config(sm, "cfg", ("a", "m", 1.0, 1), ("A", "m", 1.0, 1))
    assert error_of(exc)[0] == "ValidationException"
    make_config(sm, "cfg", ("a", "m", 1.0, 1))
    with pytest.raises(ClientError) as exc:
        make_config(sm, "cfg", ("a", "m", 1.0, 1))
    assert error_of(exc)[1] == f'Cannot create already existing endpoint configuration "{ARN}:endpoint-config/cfg".'
    described = sm.describe_endpoint_config(EndpointConfigName="cfg")
    assert described["EndpointConfigArn"] == f"{ARN}:endpoint-config/cfg"
    assert described["ProductionVariants"][0]["ModelName"] == "m"


def test_inference_component_config_requires_execution_role(sm: Any) -> None:
    variant = {"VariantName": "v", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint_config(EndpointConfigName="ic", ProductionVariants=[variant])
    assert error_of(exc)[0] == "ValidationException"
    sm.create_endpoint_config(EndpointConfigName="ic", ProductionVariants=[variant], ExecutionRoleArn=ROLE)


def test_endpoint_create_sequence_and_errors(sm: Any, admin: AdminClient) -> None:
    admin.set_durations(create=0.4)
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="nope")
    assert error_of(exc)[1] == f'Could not find endpoint configuration "{ARN}:endpoint-config/nope".'
    make_model(sm, "m")
    make_config(sm, "c", ("AllTraffic", "m", 1.0, 2))
    arn = sm.create_endpoint(EndpointName="Ep", EndpointConfigName="c", Tags=[{"Key": "team", "Value": "ml"}])[
        "EndpointArn"
    ]
    assert arn == f"{ARN}:endpoint/ep"
    assert statuses_until(sm, "Ep", {"InService", "Failed"}) == ["Creating", "InService"]
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    assert error_of(exc) == ("ValidationException", f'Cannot create already existing endpoint "{arn}".', 400)
    described = sm.describe_endpoint(EndpointName="Ep")
    variant = described["ProductionVariants"][0]
    assert variant["CurrentWeight"] == variant["DesiredWeight"] == 1.0
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 2
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    assert "@sha256:" in variant["DeployedImages"][0]["ResolvedImage"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_describe_missing_endpoint(sm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sm.describe_endpoint(EndpointName="ghost")
    assert error_of(exc) == ("ValidationException", f'Could not find endpoint "{ARN}:endpoint/ghost".', 400)


def test_failed_create_only_accepts_delete(sm: Any, admin: AdminClient) -> None:
    make_model(sm, "bad", image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/will-fail:1")
    make_config(sm, "c", ("AllTraffic", "bad", 1.0, 1))
    make_model(sm, "good")
    make_config(sm, "c2", ("AllTraffic", "good", 1.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    described = wait_until(lambda: (d := sm.describe_endpoint(EndpointName="ep"))["EndpointStatus"] == "Failed" and d)
    assert "did not pass the ping health check" in described["FailureReason"]
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 1}]
        )
    assert error_of(exc)[0] == "ValidationException"
    admin.set_durations(delete=0.3)
    sm.delete_endpoint(EndpointName="ep")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Deleting"
    wait_until(lambda: not sm.list_endpoints()["Endpoints"])


def test_admin_failure_trigger_on_create(sm: Any, admin: AdminClient) -> None:
    admin.fail_next("endpoint", "ep", operation="create", reason="capacity unavailable")
    make_model(sm, "m")
    make_config(sm, "c", ("AllTraffic", "m", 1.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    described = sm.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", "capacity unavailable")
    assert admin.failures() == []


def test_update_refused_while_in_progress(sm: Any, admin: AdminClient) -> None:
    admin.set_durations(create=30)
    make_model(sm, "m")
    make_config(sm, "c", ("AllTraffic", "m", 1.0, 1))
    arn = sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")["EndpointArn"]
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c")
    assert error_of(exc) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".', 400)
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2}]
        )
    assert error_of(exc) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".', 400)


def test_update_switches_config_after_updating(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 3))
    admin.set_durations(update=0.4)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    during = sm.describe_endpoint(EndpointName="ep")
    assert during["EndpointStatus"] == "Updating"
    assert during["EndpointConfigName"] == "ep-c1"  # the old config serves until the switch
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == "c2"
    assert during["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Creating"
    assert statuses_until(sm, "ep", {"InService"}) == ["Updating", "InService"]
    after = sm.describe_endpoint(EndpointName="ep")
    assert after["EndpointConfigName"] == "c2"
    assert "PendingDeploymentSummary" not in after
    assert after["ProductionVariants"][0]["CurrentInstanceCount"] == 3
    assert after["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE2


def test_failed_update_returns_to_old_config(sm: Any) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "broken", "s3-image-fail:1")
    make_config(sm, "c2", ("AllTraffic", "broken", 1.0, 1))
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    described = wait_until(
        lambda: (d := sm.describe_endpoint(EndpointName="ep"))["EndpointStatus"] == "InService" and d
    )
    assert described["EndpointConfigName"] == "ep-c1"
    assert "did not pass the ping health check" in described["FailureReason"]


def _canary(wait: int, alarm: str | None = None, kind: str = "CANARY") -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": wait}
    if kind == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": 25}
    if kind == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": 50}
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}
    if alarm:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": alarm}]}
    return config


def _pending_phases(sm: Any, name: str) -> list[tuple[str, float]]:
    """(VariantStatus, pending CurrentWeight) seen until the deployment ends."""
    seen: list[tuple[str, float]] = []

    def step() -> bool:
        described = sm.describe_endpoint(EndpointName=name)
        pending = described.get("PendingDeploymentSummary")
        if pending is None:
            return True
        variant = pending["ProductionVariants"][0]
        item = (variant["VariantStatus"][0]["Status"], variant.get("CurrentWeight", 0.0))
        if not seen or seen[-1] != item:
            seen.append(item)
        return False

    wait_until(step, timeout=15)
    return seen


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("CANARY", [("Creating", 0.0), ("ActivatingTraffic", 0.25), ("Baking", 1.0)]),
        ("LINEAR", [("Creating", 0.0), ("ActivatingTraffic", 0.5), ("Baking", 1.0)]),
    ],
)
def test_blue_green_traffic_shift_is_visible(sm: Any, admin: AdminClient, kind: str, expected: Any) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 4))
    admin.set_durations(update=0.3)
    config = _canary(1, kind=kind)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=config)
    assert _pending_phases(sm, "ep") == expected
    after = wait_until(lambda: (d := sm.describe_endpoint(EndpointName="ep"))["EndpointStatus"] == "InService" and d)
    assert after["EndpointConfigName"] == "c2"
    assert after["LastDeploymentConfig"] == config


def test_rolling_update_batches(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep", count=4)
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 4))
    admin.set_durations(update=0.2)
    config = {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2}, "WaitIntervalInSeconds": 1}
    }
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=config)
    assert _pending_phases(sm, "ep") == [("Creating", 0.0), ("Updating", 0.5), ("Baking", 1.0)]
    assert sm.describe_endpoint(EndpointName="ep")["LastDeploymentConfig"] == config


def test_alarm_rolls_back_blue_green(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 2))
    admin.set_durations(update=0.5)  # the rollback takes as long, long enough to observe it
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=_canary(30, alarm="errors-high"))
    wait_until(
        lambda: (
            sm.describe_endpoint(EndpointName="ep")["PendingDeploymentSummary"]["ProductionVariants"][0][
                "VariantStatus"
            ][0]["Status"]
            == "ActivatingTraffic"
        )
    )
    assert admin.resources("endpoint")[0]["traffic_to_new_fleet"] == 0.25
    admin.set_alarm("errors-high", "ALARM")
    rolling_back = admin.resources("endpoint")[0]
    assert (rolling_back["status"], rolling_back["traffic_to_new_fleet"]) == ("Updating", 0.0)
    described = wait_until(
        lambda: (d := sm.describe_endpoint(EndpointName="ep"))["EndpointStatus"] == "InService" and d
    )
    assert described["EndpointConfigName"] == "ep-c1"
    assert "errors-high" in described["FailureReason"]


def test_failed_rollback_ends_update_rollback_failed(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 2))
    admin.fail_next("endpoint", "ep", reason="rollback could not restore capacity", rollback=True)
    admin.set_alarm("errors-high", "ALARM")  # already firing when the deployment starts
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=_canary(30, alarm="errors-high"))
    described = wait_until(
        lambda: (d := sm.describe_endpoint(EndpointName="ep"))["EndpointStatus"] == "UpdateRollbackFailed" and d
    )
    assert "rollback could not restore capacity" in described["FailureReason"]


def test_weights_and_capacities(sm: Any, admin: AdminClient) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("a", "m", 1.0, 1), ("b", "m", 1.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    admin.set_durations(update=0.3)
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "b", "DesiredWeight": 3.0, "DesiredInstanceCount": 4}],
    )
    during = sm.describe_endpoint(EndpointName="ep")
    b = during["ProductionVariants"][1]
    assert during["EndpointStatus"] == "Updating"
    assert (b["CurrentWeight"], b["DesiredWeight"], b["CurrentInstanceCount"], b["DesiredInstanceCount"]) == (
        1,
        3,
        1,
        4,
    )
    assert statuses_until(sm, "ep", {"InService"}) == ["Updating", "InService"]
    b = sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][1]
    assert (b["CurrentWeight"], b["CurrentInstanceCount"]) == (3.0, 4)
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "zzz", "DesiredWeight": 1.0}]
        )
    assert error_of(exc)[0] == "ValidationException"


@pytest.mark.parametrize(
    ("exclude", "expected"),
    [
        (None, (5, 7.0)),
        ([{"VariantPropertyType": "DesiredInstanceCount"}], (2, 7.0)),
        ([{"VariantPropertyType": "DesiredWeight"}], (5, 1.0)),
    ],
)
def test_retain_variant_properties(sm: Any, exclude: Any, expected: tuple[int, float]) -> None:
    make_endpoint(sm, "ep", count=1)
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 7.0, "DesiredInstanceCount": 5}],
    )
    wait_until(lambda: sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 2))
    extra = {"ExcludeRetainedVariantProperties": exclude} if exclude else {}
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", RetainAllVariantProperties=True, **extra)
    variant = wait_until(
        lambda: (
            (d := sm.describe_endpoint(EndpointName="ep"))["EndpointConfigName"] == "c2" and d["ProductionVariants"][0]
        )
    )
    assert (variant["DesiredInstanceCount"], variant["DesiredWeight"]) == expected


def test_serverless_variant_reports_serverless_config(sm: Any) -> None:
    make_model(sm, "m")
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[{"VariantName": "s", "ModelName": "m", "ServerlessConfig": serverless}],
    )
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    variant = sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == serverless
    assert "CurrentInstanceCount" not in variant


def test_deleting_model_and_config_in_use_is_allowed(sm: Any, rt: Any) -> None:
    make_endpoint(sm, "ep")
    sm.delete_endpoint_config(EndpointConfigName="ep-c1")
    sm.delete_model(ModelName="ep-m1")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    assert rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["InvokedProductionVariant"] == "AllTraffic"


def test_list_filters_sorting_and_pagination(sm: Any) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    for name in ["alpha-1", "beta-1", "alpha-2", "alpha-3"]:
        sm.create_endpoint(EndpointName=name, EndpointConfigName="c")
    names = [
        e["EndpointName"]
        for e in sm.list_endpoints(NameContains="alpha", SortBy="Name", SortOrder="Ascending")["Endpoints"]
    ]
    assert names == ["alpha-1", "alpha-2", "alpha-3"]
    first = sm.list_endpoints(MaxResults=3, SortBy="CreationTime", SortOrder="Ascending")
    assert [e["EndpointName"] for e in first["Endpoints"]] == ["alpha-1", "beta-1", "alpha-2"]
    second = sm.list_endpoints(MaxResults=3, SortBy="CreationTime", SortOrder="Ascending", NextToken=first["NextToken"])
    assert [e["EndpointName"] for e in second["Endpoints"]] == ["alpha-3"]
    assert "NextToken" not in second
    paginated = [
        e["EndpointName"]
        for page in sm.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": 1})
        for e in page["Endpoints"]
    ]
    assert sorted(paginated) == ["alpha-1", "alpha-2", "alpha-3", "beta-1"]
    assert sm.list_endpoints(StatusEquals="Failed")["Endpoints"] == []
    assert [m["ModelName"] for m in sm.list_models(NameContains="m")["Models"]] == ["m"]
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == ["c"]


def test_tags_replace_and_delete(sm: Any) -> None:
    make_model(sm, "m")
    arn = f"{ARN}:model/m"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "3"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["b"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}]
    with pytest.raises(ClientError) as exc:
        sm.list_tags(ResourceArn=f"{ARN}:model/none")
    assert error_of(exc)[0] == "ValidationException"
