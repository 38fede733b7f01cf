"""Conformance: every rule of the emulator's spec pinned with plain boto3, exact codes and messages.

Grouped as the spec is: errors of the hosting operations, status sequences, invocation, tags and
ARNs, Application Auto Scaling, admin API (faults, counters, snapshot), robustness.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from botocore.retries import standard
from emulator_helpers import (
    ACCOUNT,
    IMAGE,
    IMAGE2,
    REGION,
    ROLE,
    client,
    create_ic,
    error_of,
    ic_host,
    make_config,
    make_endpoint,
    make_model,
    statuses_until,
    wait_until,
)

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.server import EmulatorThread

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
VARIANT_DIM = "sagemaker:variant:DesiredInstanceCount"
IC_DIM = "sagemaker:inference-component:DesiredCopyCount"


def fails(call: Callable[[], Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the ClientError ``call`` raises."""
    with pytest.raises(ClientError) as exc:
        call()
    return error_of(exc)


def invalid(message: str) -> tuple[str, str, int]:
    return ("ValidationException", message, 400)


def describe(sm: Any, name: str = "ep") -> dict[str, Any]:
    return dict(sm.describe_endpoint(EndpointName=name))


def update_to_new_model(sm: Any, config: str = "c2", image: str = IMAGE2, variant: str = "AllTraffic") -> None:
    make_model(sm, f"{config}-m", image)
    make_config(sm, config, (variant, f"{config}-m", 1.0, 2))


def blue_green(kind: str, wait: int, alarm: str | None = None) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": wait}
    if kind == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": 50}
    if kind == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": 50}
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}
    if alarm:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": alarm}]}
    return config


# ------------------------------------------------------------------------ errors of operations
@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("describe_model", {"ModelName": "Gone"}, f'Could not find model "{ARN}:model/gone".'),
        ("delete_model", {"ModelName": "gone"}, f'Could not find model "{ARN}:model/gone".'),
        (
            "describe_endpoint_config",
            {"EndpointConfigName": "Gone"},
            f'Could not find endpoint configuration "{ARN}:endpoint-config/gone".',
        ),
        (
            "delete_endpoint_config",
            {"EndpointConfigName": "gone"},
            f'Could not find endpoint configuration "{ARN}:endpoint-config/gone".',
        ),
        ("describe_endpoint", {"EndpointName": "Gone"}, f'Could not find endpoint "{ARN}:endpoint/gone".'),
        ("delete_endpoint", {"EndpointName": "gone"}, f'Could not find endpoint "{ARN}:endpoint/gone".'),
        (
            "update_endpoint",
            {"EndpointName": "gone", "EndpointConfigName": "c"},
            f'Could not find endpoint "{ARN}:endpoint/gone".',
        ),
        (
            "update_endpoint_weights_and_capacities",
            {"EndpointName": "gone", "DesiredWeightsAndCapacities": [{"VariantName": "v", "DesiredWeight": 1}]},
            f'Could not find endpoint "{ARN}:endpoint/gone".',
        ),
        (
            "describe_inference_component",
            {"InferenceComponentName": "Gone"},
            f'Could not find inference component "{ARN}:inference-component/gone".',
        ),
        (
            "delete_inference_component",
            {"InferenceComponentName": "gone"},
            f'Could not find inference component "{ARN}:inference-component/gone".',
        ),
        (
            "update_inference_component_runtime_config",
            {"InferenceComponentName": "gone", "DesiredRuntimeConfig": {"CopyCount": 1}},
            f'Could not find inference component "{ARN}:inference-component/gone".',
        ),
    ],
)
def test_missing_resource_is_named_by_its_arn(sm: Any, operation: str, params: dict[str, Any], message: str) -> None:
    assert fails(lambda: getattr(sm, operation)(**params)) == invalid(message)


def test_update_endpoint_naming_a_missing_config(sm: Any) -> None:
    make_endpoint(sm, "ep")
    assert fails(lambda: sm.update_endpoint(EndpointName="ep", EndpointConfigName="nope")) == invalid(
        f'Could not find endpoint configuration "{ARN}:endpoint-config/nope".'
    )


def test_duplicate_inference_component_and_config(sm: Any) -> None:
    ic_host(sm)
    arn = create_ic(sm, "IC")
    assert arn == f"{ARN}:inference-component/ic"
    assert fails(lambda: create_ic(sm, "ic")) == invalid(f'Cannot create already existing inference component "{arn}".')
    assert fails(
        lambda: sm.create_endpoint_config(
            EndpointConfigName="HOST-cfg",
            ExecutionRoleArn=ROLE,
            ProductionVariants=[{"VariantName": "v", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}],
        )
    ) == invalid(f'Cannot create already existing endpoint configuration "{ARN}:endpoint-config/host-cfg".')


def test_at_most_ten_production_variants(sm_raw: Any) -> None:
    variants = [
        {"VariantName": f"v{i}", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        for i in range(11)
    ]
    code, message, status = fails(
        lambda: sm_raw.create_endpoint_config(EndpointConfigName="c", ProductionVariants=variants)
    )
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith(
        "' at 'productionVariants' failed to satisfy constraint: Member must have length less than or equal to 10"
    )


def test_variant_names_must_be_unique_across_production_and_shadow(sm: Any) -> None:
    make_model(sm, "m")
    variant = {"ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    code, message, _ = fails(
        lambda: sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "Blue", **variant}],
            ShadowProductionVariants=[{"VariantName": "blue", **variant}],
        )
    )
    assert code == "ValidationException"
    assert "blue" in message and "more than once" in message
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []  # nothing half-created


def test_updates_refused_while_updating(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.set_durations(update=30)
    arn = sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")["EndpointArn"]
    in_progress = invalid(f'Cannot update in-progress endpoint "{arn}".')
    assert fails(lambda: sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")) == in_progress
    assert (
        fails(
            lambda: sm.update_endpoint_weights_and_capacities(
                EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2}]
            )
        )
        == in_progress
    )
    # An endpoint with an operation in progress cannot be deleted either (AWS answers the same).
    assert fails(lambda: sm.delete_endpoint(EndpointName="ep")) == in_progress
    assert describe(sm)["EndpointStatus"] == "Updating"


def test_delete_refused_while_creating_and_deleting(sm: Any, admin: AdminClient) -> None:
    admin.set_durations(create=30, delete=30)
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    arn = sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")["EndpointArn"]
    assert fails(lambda: sm.delete_endpoint(EndpointName="ep")) == invalid(
        f'Cannot update in-progress endpoint "{arn}".'
    )
    admin.set_durations(create=0)
    sm.create_endpoint(EndpointName="ep2", EndpointConfigName="c")
    sm.delete_endpoint(EndpointName="ep2")
    assert describe(sm, "ep2")["EndpointStatus"] == "Deleting"
    assert fails(lambda: sm.delete_endpoint(EndpointName="ep2")) == invalid(
        f'Cannot update in-progress endpoint "{ARN}:endpoint/ep2".'
    )


def test_failed_endpoint_accepts_only_delete(sm: Any, rt: Any) -> None:
    make_model(sm, "bad", image="registry/fail:1")
    make_config(sm, "c", ("AllTraffic", "bad", 1.0, 1))
    make_model(sm, "good")
    make_config(sm, "c2", ("AllTraffic", "good", 1.0, 1))
    arn = sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")["EndpointArn"]
    assert describe(sm)["EndpointStatus"] == "Failed"
    failed = invalid(f'Cannot update failed endpoint "{arn}".')
    assert fails(lambda: sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")) == failed
    assert (
        fails(
            lambda: sm.update_endpoint_weights_and_capacities(
                EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2}]
            )
        )
        == failed
    )
    code, _, status = fails(lambda: rt.invoke_endpoint(EndpointName="ep", Body=b"{}"))
    assert (code, status) == ("ValidationError", 400)
    sm.delete_endpoint(EndpointName="ep")
    assert fails(lambda: describe(sm)) == invalid(f'Could not find endpoint "{arn}".')


def test_deleted_model_and_config_leave_the_endpoint_serving_and_updatable(sm: Any, rt: Any) -> None:
    make_endpoint(sm, "ep")
    sm.delete_model(ModelName="ep-m1")
    sm.delete_endpoint_config(EndpointConfigName="ep-c1")
    described = describe(sm)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "ep-c1")
    body = json.loads(rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read())
    assert (body["endpoint_config"], body["model"], body["image"]) == ("ep-c1", "ep-m1", IMAGE)
    update_to_new_model(sm)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    assert describe(sm)["EndpointConfigName"] == "c2"


def test_weights_update_is_all_or_nothing(sm: Any) -> None:
    make_model(sm, "m")
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "fixed", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1},
            {"VariantName": "sls", "ModelName": "m", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}},
        ],
    )
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    code, _, _ = fails(
        lambda: sm.update_endpoint_weights_and_capacities(
            EndpointName="ep",
            DesiredWeightsAndCapacities=[
                {"VariantName": "fixed", "DesiredWeight": 5.0},
                {"VariantName": "sls", "DesiredInstanceCount": 3},
            ],
        )
    )
    assert code == "ValidationException"
    described = describe(sm)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["DesiredWeight"] == 1.0  # the valid half was not applied


# ------------------------------------------------------------------------------ status sequences
def test_failed_create_sequence(sm: Any, admin: AdminClient) -> None:
    admin.set_durations(create=0.3)
    make_model(sm, "bad", ModelDataUrl="s3://bucket/fail/model.tar.gz")
    make_config(sm, "c", ("AllTraffic", "bad", 1.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    assert statuses_until(sm, "ep", {"InService", "Failed"}) == ["Creating", "Failed"]
    assert describe(sm)["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint."
    )


def test_failed_update_sequence_keeps_the_old_config(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm, image="registry/fail:2")
    admin.set_durations(update=0.3)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    during = describe(sm)
    assert (during["EndpointStatus"], during["EndpointConfigName"]) == ("Updating", "ep-c1")
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == "c2"
    assert statuses_until(sm, "ep", {"InService", "Failed"}) == ["Updating", "InService"]
    after = describe(sm)
    assert after["EndpointConfigName"] == "ep-c1"
    assert "did not pass the ping health check" in after["FailureReason"]
    assert "PendingDeploymentSummary" not in after
    assert "LastDeploymentConfig" not in after


def test_admin_trigger_fails_an_update_with_its_reason(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.fail_next("endpoint", "EP", operation="update", reason="insufficient capacity")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    after = describe(sm)
    assert (after["EndpointStatus"], after["EndpointConfigName"], after["FailureReason"]) == (
        "InService",
        "ep-c1",
        "insufficient capacity",
    )
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")  # a later update succeeds
    after = describe(sm)
    assert after["EndpointConfigName"] == "c2"
    assert "FailureReason" not in after


def test_delete_sequence_ends_in_could_not_find(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    admin.set_durations(delete=0.3)
    sm.delete_endpoint(EndpointName="ep")
    seen: list[str] = []

    def gone() -> bool:
        found = sm.list_endpoints()["Endpoints"]
        if found and (not seen or seen[-1] != found[0]["EndpointStatus"]):
            seen.append(found[0]["EndpointStatus"])
        return not found

    wait_until(gone)
    assert seen == ["Deleting"]
    assert fails(lambda: describe(sm)) == invalid(f'Could not find endpoint "{ARN}:endpoint/ep".')
    assert sm.list_endpoints()["Endpoints"] == []


def test_all_at_once_bakes_then_records_the_deployment(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.set_durations(update=0.2)
    config = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 1},
            "TerminationWaitInSeconds": 0,
        }
    }
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=config)
    phases: list[str] = []

    def step() -> bool:
        pending = describe(sm).get("PendingDeploymentSummary")
        if pending is None:
            return True
        phase = pending["ProductionVariants"][0]["VariantStatus"][0]["Status"]
        if not phases or phases[-1] != phase:
            phases.append(phase)
        return False

    wait_until(step)
    assert phases == ["Creating", "Baking"]
    after = describe(sm)
    assert (after["EndpointStatus"], after["EndpointConfigName"], after["LastDeploymentConfig"]) == (
        "InService",
        "c2",
        config,
    )


def test_auto_rollback_sequence(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.set_durations(update=0.3)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green("CANARY", 30, "a1"))
    wait_until(lambda: describe(sm)["PendingDeploymentSummary"]["ProductionVariants"][0].get("CurrentWeight"))
    admin.set_alarm("a1", "ALARM")
    assert admin.alarms() == {"a1": "ALARM"}
    assert statuses_until(sm, "ep", {"InService"}) == ["Updating", "InService"]
    after = describe(sm)
    assert after["EndpointConfigName"] == "ep-c1"
    assert after["FailureReason"] == "Rolled back endpoint update because alarm a1 went into ALARM state."


def test_update_rollback_failed_serves_a_mix_and_accepts_update_and_delete(
    sm: Any, rt: Any, admin: AdminClient
) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.fail_next("endpoint", "ep", reason="could not restore", rollback=True)
    admin.set_alarm("a1", "ALARM")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green("CANARY", 30, "a1"))
    after = describe(sm)
    assert (after["EndpointStatus"], after["FailureReason"]) == (
        "UpdateRollbackFailed",
        "Auto-rollback failed: could not restore",
    )
    served = Counter(
        json.loads(rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read())["endpoint_config"]
        for _ in range(60)
    )
    assert set(served) == {"ep-c1", "c2"}  # both fleets still take traffic
    admin.set_alarm("a1", "OK")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    assert describe(sm)["EndpointStatus"] == "InService"
    served = Counter(
        json.loads(rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read())["endpoint_config"]
        for _ in range(20)
    )
    assert served == {"c2": 20}
    sm.delete_endpoint(EndpointName="ep")


# ------------------------------------------------------------------------------------ invocation
class InvocationLoop:
    """Invoke an endpoint in a thread until stopped; record who served and every failure."""

    def __init__(self, emulator: EmulatorThread, endpoint: str = "ep") -> None:
        self.runtime = client(emulator, "sagemaker-runtime")
        self.endpoint = endpoint
        self.served: list[tuple[str, str]] = []
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=b"{}")
                body = json.loads(response["Body"].read())
                self.served.append((body["endpoint_config"], response["InvokedProductionVariant"]))
            except BaseException as exc:
                self.failures.append(exc)

    def __enter__(self) -> InvocationLoop:
        self._thread.start()
        wait_until(lambda: len(self.served) >= 3)
        return self

    def __exit__(self, *exc: object) -> None:
        count = len(self.served)
        wait_until(lambda: len(self.served) >= count + 3 or self.failures)
        self._stop.set()
        self._thread.join(timeout=10)

    def configs(self) -> list[str]:
        return [config for config, _ in self.served]


def in_service_and_settled(sm: Any) -> bool:
    described = describe(sm)
    return described["EndpointStatus"] == "InService" and "PendingDeploymentSummary" not in described


@pytest.mark.parametrize(
    ("deployment", "mixes"),
    [
        (None, False),
        (blue_green("ALL_AT_ONCE", 0), False),
        (blue_green("CANARY", 1), True),
        (blue_green("LINEAR", 1), True),
        (
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    "WaitIntervalInSeconds": 1,
                }
            },
            True,
        ),
    ],
    ids=["default", "all-at-once", "canary", "linear", "rolling"],
)
def test_no_failed_invocation_during_update(
    emulator: EmulatorThread, sm: Any, admin: AdminClient, deployment: dict[str, Any] | None, mixes: bool
) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm)
    admin.set_durations(update=0.3)
    extra = {"DeploymentConfig": deployment} if deployment else {}
    with InvocationLoop(emulator) as loop:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", **extra)
        assert describe(sm)["EndpointConfigName"] == "ep-c1"  # the old fleet serves until the switch
        wait_until(lambda: in_service_and_settled(sm), timeout=15)
    assert loop.failures == []
    configs = loop.configs()
    assert configs[0] == "ep-c1" and configs[-1] == "c2"
    switches = sum(1 for a, b in itertools.pairwise(configs) if a != b)
    if mixes:
        assert switches >= 2  # both fleets took traffic at the same time
    else:
        assert configs == sorted(configs, key=lambda c: c == "c2")  # one clean switch


def test_no_failed_invocation_during_failed_update_and_rollback(
    emulator: EmulatorThread, sm: Any, admin: AdminClient
) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm, "broken", image="registry/fail:9")
    update_to_new_model(sm, "c2")
    admin.set_durations(update=0.3)
    with InvocationLoop(emulator) as loop:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="broken")
        wait_until(lambda: in_service_and_settled(sm))
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green("CANARY", 30, "a"))
        wait_until(lambda: describe(sm)["PendingDeploymentSummary"]["ProductionVariants"][0].get("CurrentWeight"))
        wait_until(lambda: "c2" in loop.configs())
        admin.set_alarm("a", "ALARM")
        wait_until(lambda: in_service_and_settled(sm))
    assert loop.failures == []
    configs = loop.configs()
    assert "broken" not in configs  # a failing fleet never takes traffic
    assert configs[-1] == "ep-c1"  # rolled back
    assert describe(sm)["EndpointConfigName"] == "ep-c1"


def test_no_failed_invocation_during_weight_change(emulator: EmulatorThread, sm: Any, admin: AdminClient) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("a", "m", 1.0, 1), ("b", "m", 0.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    admin.set_durations(update=0.3)
    with InvocationLoop(emulator) as loop:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep",
            DesiredWeightsAndCapacities=[
                {"VariantName": "a", "DesiredWeight": 0.0},
                {"VariantName": "b", "DesiredWeight": 1.0, "DesiredInstanceCount": 3},
            ],
        )
        assert describe(sm)["EndpointStatus"] == "Updating"
        wait_until(lambda: in_service_and_settled(sm))
    assert loop.failures == []
    variants = [variant for _, variant in loop.served]
    assert variants[0] == "a" and variants[-1] == "b"


def test_target_variant_during_a_shift_reaches_either_fleet(sm: Any, rt: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    update_to_new_model(sm, variant="Green")
    admin.set_durations(update=0)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green("CANARY", 30))
    for target, config in (("Green", "c2"), ("AllTraffic", "ep-c1")):
        for _ in range(10):
            response = rt.invoke_endpoint(EndpointName="ep", Body=b"{}", TargetVariant=target)
            assert response["InvokedProductionVariant"] == target
            assert json.loads(response["Body"].read())["endpoint_config"] == config
    code, message, _ = fails(lambda: rt.invoke_endpoint(EndpointName="ep", Body=b"{}", TargetVariant="nope"))
    assert (code, message) == ("ValidationError", "Variant nope not found for endpoint ep.")


def test_invoke_refused_while_creating_and_deleting(sm: Any, rt: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    admin.set_durations(delete=30, create=30)
    sm.delete_endpoint(EndpointName="ep")
    code, message, status = fails(lambda: rt.invoke_endpoint(EndpointName="ep", Body=b"{}"))
    assert (code, status) == ("ValidationError", 400)
    assert message == f"Endpoint {ARN}:endpoint/ep is not in service (status: Deleting)."
    make_config(sm, "c", ("v", "ep-m1", 1.0, 1))
    sm.create_endpoint(EndpointName="new", EndpointConfigName="c")
    assert fails(lambda: rt.invoke_endpoint(EndpointName="new", Body=b"{}"))[1] == (
        f"Endpoint {ARN}:endpoint/new is not in service (status: Creating)."
    )


def test_invoke_inference_component_by_name(sm: Any, rt: Any) -> None:
    ic_host(sm)
    create_ic(sm)
    response = rt.invoke_endpoint(EndpointName="host", InferenceComponentName="ic", Body=b'{"q": 1}')
    assert response["InvokedProductionVariant"] == "main"
    body = json.loads(response["Body"].read())
    assert (body["inference_component"], body["image"], body["input"]) == ("ic", IMAGE, {"q": 1})


# ------------------------------------------------------------------------------------ validation
def test_list_of_scalars_and_map_violations_are_reported_at_the_container(sm_raw: Any) -> None:
    code, message, _ = fails(lambda: sm_raw.delete_tags(ResourceArn=f"{ARN}:model/m", TagKeys=["ok", ""]))
    assert code == "ValidationException"
    assert message.startswith(
        "1 validation error detected: Value '[ok, ]' at 'tagKeys' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
    )
    code, message, _ = fails(
        lambda: sm_raw.create_model(ModelName="m", PrimaryContainer={"Image": "i", "Environment": {"1BAD": "v"}})
    )
    assert message == (
        "1 validation error detected: Value '{1BAD=v}' at 'primaryContainer.environment' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 0, "
        "Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]"
    )


def test_nested_numeric_range_uses_the_member_path(sm_raw: Any) -> None:
    variant = {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialVariantWeight": -1}
    assert fails(
        lambda: sm_raw.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    ) == invalid(
        "1 validation error detected: Value '-1' at 'productionVariants.1.member.initialVariantWeight' failed to "
        "satisfy constraint: Member must have value greater than or equal to 0"
    )


def test_required_top_level_member(sm_raw: Any) -> None:
    assert fails(lambda: sm_raw.create_endpoint(EndpointName="ep")) == invalid(
        "1 validation error detected: Value null at 'endpointConfigName' failed to satisfy constraint: "
        "Member must not be null"
    )


def raw_call(
    emulator: EmulatorThread, body: bytes, headers: dict[str, str], method: str = "POST", path: str = "/"
) -> tuple[int, str, bytes]:
    request = urllib.request.Request(emulator.url + path, data=body or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def test_unknown_operation_names_it(emulator: EmulatorThread, admin: AdminClient) -> None:
    status, content_type, body = raw_call(emulator, b"{}", {**JSON_HEADERS, "X-Amz-Target": "SageMaker.LaunchRocket"})
    assert (status, content_type) == (400, "application/x-amz-json-1.1")
    assert json.loads(body) == {
        "__type": "UnknownOperationException",
        "message": "Unknown operation SageMaker.LaunchRocket.",
    }


def test_malformed_json_is_a_serialization_exception(emulator: EmulatorThread) -> None:
    status, _, body = raw_call(emulator, b"{not json", {**JSON_HEADERS, "X-Amz-Target": "SageMaker.ListModels"})
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"
    status, _, body = raw_call(emulator, b"[1]", {**JSON_HEADERS, "X-Amz-Target": "SageMaker.ListModels"})
    assert (status, json.loads(body)["__type"]) == (400, "SerializationException")


def test_wrong_protocol_gets_a_clear_error(emulator: EmulatorThread) -> None:
    # A SageMaker operation sent with the query protocol lands on STS, which names it.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, content_type, body = raw_call(emulator, b"Action=DescribeEndpoint&Version=2017-07-24", form)
    assert (status, content_type) == (400, "text/xml")
    assert b"<Code>InvalidAction</Code>" in body and b"DescribeEndpoint" in body
    # JSON 1.1 is POST only.
    status, _, body = raw_call(emulator, b"", {"X-Amz-Target": "SageMaker.ListModels"}, method="GET")
    assert status == 405
    assert json.loads(body)["__type"] == "UnknownOperationException"
    # Unknown paths answer JSON, never an HTML page.
    status, _, body = raw_call(emulator, b"", {}, method="GET", path="/no/such/thing")
    assert (status, json.loads(body)["__type"]) == (404, "UnknownOperationException")


# --------------------------------------------------------------------------------- tags and ARNs
def test_tags_given_at_create_are_stored_on_every_kind(sm: Any) -> None:
    tags = [{"Key": "team", "Value": "ml"}]
    arns = [
        sm.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE}, Tags=tags)["ModelArn"],
        sm.create_endpoint_config(
            EndpointConfigName="host-cfg",
            ExecutionRoleArn=ROLE,
            ProductionVariants=[{"VariantName": "main", "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": 1}],
            Tags=tags,
        )["EndpointConfigArn"],
        sm.create_endpoint(EndpointName="host", EndpointConfigName="host-cfg", Tags=tags)["EndpointArn"],
    ]
    arns.append(create_ic(sm, Tags=tags))
    for arn in arns:
        assert sm.list_tags(ResourceArn=arn)["Tags"] == tags
    ic_arn = arns[-1]
    sm.add_tags(ResourceArn=ic_arn, Tags=[{"Key": "team", "Value": "infra"}, {"Key": "x", "Value": "1"}])
    assert sm.list_tags(ResourceArn=ic_arn)["Tags"] == [{"Key": "team", "Value": "infra"}, {"Key": "x", "Value": "1"}]
    sm.delete_tags(ResourceArn=ic_arn, TagKeys=["team", "absent"])
    assert sm.list_tags(ResourceArn=ic_arn)["Tags"] == [{"Key": "x", "Value": "1"}]


def test_fifty_tags_at_most_and_list_tags_pages(sm: Any) -> None:
    make_model(sm, "m")
    arn = f"{ARN}:model/m"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": str(i)} for i in range(30)])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": "again"} for i in range(20, 50)])
    page = sm.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(page["Tags"]) == 50 and "NextToken" not in page
    assert page["Tags"][25] == {"Key": "k25", "Value": "again"}
    assert [t["Key"] for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn) for t in page["Tags"]] == [
        f"k{i:02}" for i in range(50)
    ]
    code, _, _ = fails(lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "x"}]))
    assert code == "ResourceLimitExceeded"
    assert len(sm.list_tags(ResourceArn=arn, MaxResults=50)["Tags"]) == 50  # unchanged
    assert fails(lambda: sm.list_tags(ResourceArn=arn, NextToken="garbage"))[0] == "ValidationException"


def test_arns_carry_region_account_and_lower_cased_names(emulator: EmulatorThread) -> None:
    sm = client(emulator, "sagemaker", region="ap-southeast-2")
    model_arn = sm.create_model(ModelName="Mixed-Case", PrimaryContainer={"Image": IMAGE})["ModelArn"]
    assert model_arn == f"arn:aws:sagemaker:ap-southeast-2:{ACCOUNT}:model/mixed-case"
    make_config(sm, "Cfg-A", ("V", "Mixed-Case", 1.0, 1))
    described = sm.describe_endpoint_config(EndpointConfigName="cfg-a")
    assert (described["EndpointConfigName"], described["EndpointConfigArn"]) == (
        "Cfg-A",
        f"arn:aws:sagemaker:ap-southeast-2:{ACCOUNT}:endpoint-config/cfg-a",
    )
    ep_arn = sm.create_endpoint(EndpointName="EP-One", EndpointConfigName="Cfg-A")["EndpointArn"]
    assert ep_arn == f"arn:aws:sagemaker:ap-southeast-2:{ACCOUNT}:endpoint/ep-one"
    assert sm.describe_endpoint(EndpointName="ep-one")["EndpointName"] == "EP-One"


# ----------------------------------------------------------------------- Application Auto Scaling
def _register(aas: Any, resource: str, dimension: str = VARIANT_DIM) -> str:
    return str(
        aas.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension, MinCapacity=1, MaxCapacity=4
        )["ScalableTargetARN"]
    )


def _step_policy(aas: Any, resource: str, name: str, dimension: str = VARIANT_DIM) -> None:
    aas.put_scaling_policy(
        PolicyName=name,
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=dimension,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        },
    )


def test_scalable_target_arn_and_describe_filters(sm: Any, aas: Any) -> None:
    make_endpoint(sm, "a")
    make_endpoint(sm, "b")
    ic_host(sm)
    create_ic(sm)
    arn = _register(aas, "endpoint/a/variant/AllTraffic")
    assert re.fullmatch(rf"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/[0-9a-z]{{36}}", arn)
    _register(aas, "endpoint/b/variant/AllTraffic")
    _register(aas, "inference-component/ic", IC_DIM)
    _step_policy(aas, "endpoint/a/variant/AllTraffic", "pa")
    _step_policy(aas, "endpoint/b/variant/AllTraffic", "pb")
    _step_policy(aas, "inference-component/ic", "pic", IC_DIM)

    def targets(**filters: Any) -> list[str]:
        found = aas.describe_scalable_targets(ServiceNamespace="sagemaker", **filters)["ScalableTargets"]
        return [t["ResourceId"] for t in found]

    assert targets(ResourceIds=["endpoint/b/variant/AllTraffic"]) == ["endpoint/b/variant/AllTraffic"]
    assert targets(ScalableDimension=IC_DIM) == ["inference-component/ic"]
    assert len(targets()) == 3
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    page = aas.describe_scalable_targets(ServiceNamespace="sagemaker", MaxResults=2)
    assert len(page["ScalableTargets"]) == 2 and "NextToken" in page

    def policies(**filters: Any) -> list[str]:
        found = aas.describe_scaling_policies(ServiceNamespace="sagemaker", **filters)["ScalingPolicies"]
        return [p["PolicyName"] for p in found]

    assert policies(PolicyNames=["pb", "pic"]) == ["pb", "pic"]
    assert policies(ResourceId="endpoint/a/variant/AllTraffic") == ["pa"]
    assert policies(ScalableDimension=IC_DIM) == ["pic"]


def test_deleting_an_endpoint_deregisters_its_targets_and_policies(sm: Any, aas: Any) -> None:
    make_endpoint(sm, "keep")
    ic_host(sm)
    create_ic(sm)
    _register(aas, "endpoint/keep/variant/AllTraffic")
    _register(aas, "endpoint/host/variant/main")
    _register(aas, "inference-component/ic", IC_DIM)
    _step_policy(aas, "endpoint/host/variant/main", "p")
    _step_policy(aas, "inference-component/ic", "pic", IC_DIM)
    sm.delete_endpoint(EndpointName="host")
    remaining = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in remaining] == ["endpoint/keep/variant/AllTraffic"]
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []


def test_deleting_an_inference_component_deregisters_its_target(sm: Any, aas: Any) -> None:
    ic_host(sm)
    create_ic(sm)
    _register(aas, "inference-component/ic", IC_DIM)
    _step_policy(aas, "inference-component/ic", "pic", IC_DIM)
    sm.delete_inference_component(InferenceComponentName="ic")
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []


def test_update_changing_a_scaled_variants_instance_type_is_refused(sm: Any, aas: Any) -> None:
    make_endpoint(sm, "ep")
    _register(aas, "endpoint/ep/variant/AllTraffic")
    make_model(sm, "m2", IMAGE2)
    sm.create_endpoint_config(
        EndpointConfigName="bigger",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m2",
                "InstanceType": "ml.p5.48xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    code, message, _ = fails(lambda: sm.update_endpoint(EndpointName="ep", EndpointConfigName="bigger"))
    assert code == "ValidationException"
    assert "instance type" in message and "AllTraffic" in message
    assert describe(sm)["EndpointStatus"] == "InService"
    make_config(sm, "same-type", ("AllTraffic", "m2", 1.0, 2))  # a new model on the same type is allowed
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="same-type")
    assert describe(sm)["EndpointConfigName"] == "same-type"


# ------------------------------------------------------------------------------------------ STS
def test_assume_role_with_a_path_and_malformed_arns(emulator: EmulatorThread) -> None:
    sts = client(emulator, "sts")
    assumed = sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/team/deployer", RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["Arn"] == "arn:aws:sts::210987654321:assumed-role/deployer/s1"
    assert assumed["AssumedRoleUser"]["AssumedRoleId"].endswith(":s1")
    for bad in (
        "arn:aws:iam::12:role/x-short-account",
        "arn:aws:iam::123456789012:user/someone",
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        "arn:aws:s3:::bucket/role/not-a-role",
    ):
        assert fails(lambda bad=bad: sts.assume_role(RoleArn=bad, RoleSessionName="s0")) == (
            "ValidationError",
            "Request ARN is invalid",
            400,
        )
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/emulator")


# ------------------------------------------------------------------------------------- admin API
@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make botocore's standard-mode retries immediate and record the contexts it retried."""
    retried: list[Any] = []

    def delay_amount(self: Any, context: Any) -> float:
        retried.append(context)
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)
    return retried


def _standard_retry_client(emulator: EmulatorThread, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id="AKIAEMULATORTEST",
        aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 25}),
    )


def test_throttling_is_retried_by_botocore_standard_mode(
    emulator: EmulatorThread, admin: AdminClient, no_backoff: list[Any]
) -> None:
    sm = _standard_retry_client(emulator, "sagemaker")
    admin.set_fault("ListModels", throttle_rate=0.5)
    for _ in range(10):
        assert sm.list_models()["Models"] == []  # every call eventually succeeds
    throttled = admin.counters()["operation_errors"]["ListModels"]["ThrottlingException"]
    assert throttled == len(no_backoff) > 0
    checker = standard.ThrottledRetryableChecker()
    assert all(checker.is_retryable(context) for context in no_backoff)
    assert {c.http_response.status_code for c in no_backoff} == {400}


def test_server_errors_are_retried_by_botocore_standard_mode(
    emulator: EmulatorThread, sm: Any, admin: AdminClient, no_backoff: list[Any]
) -> None:
    make_endpoint(sm, "ep")
    rt = _standard_retry_client(emulator, "sagemaker-runtime")
    admin.set_fault("InvokeEndpoint", error_rate=0.5, error_status=503)
    for _ in range(10):
        assert rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["InvokedProductionVariant"] == "AllTraffic"
    assert admin.counters()["operation_errors"]["InvokeEndpoint"]["ServiceUnavailable"] == len(no_backoff) > 0
    checker = standard.TransientRetryableChecker()
    assert all(checker.is_retryable(context) for context in no_backoff)
    # A client error is final: not retried.
    no_backoff.clear()
    with pytest.raises(ClientError):
        _standard_retry_client(emulator, "sagemaker").describe_endpoint(EndpointName="ghost")
    assert no_backoff == []


def test_added_latency_is_applied(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")

    def median_seconds(calls: int = 5) -> float:
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            sm.describe_endpoint(EndpointName="ep")
            times.append(time.perf_counter() - started)
        return sorted(times)[calls // 2]

    baseline = median_seconds()
    admin.set_fault("DescribeEndpoint", latency_ms=150)
    slowed = median_seconds()
    assert slowed > 3 * baseline
    admin.clear_faults("DescribeEndpoint")
    assert median_seconds() < slowed / 2


def test_counters_by_operation_caller_and_error(emulator: EmulatorThread, sm: Any, admin: AdminClient) -> None:
    admin.reset_counters()
    sm.list_models()
    with pytest.raises(ClientError):
        sm.describe_model(ModelName="ghost")
    creds = client(emulator, "sts").assume_role(RoleArn="arn:aws:iam::111122223333:role/r", RoleSessionName="s0")[
        "Credentials"
    ]
    other = client(
        emulator,
        "sagemaker",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(ClientError):
        other.describe_model(ModelName="ghost")
    counters = admin.counters()
    assert counters["total"] == 4
    assert counters["operations"] == {"ListModels": 1, "DescribeModel": 2, "AssumeRole": 1}
    assert counters["callers"] == {
        "default": {"ListModels": 1, "DescribeModel": 1, "AssumeRole": 1},
        "arn:aws:iam::111122223333:role/r": {"DescribeModel": 1},
    }
    assert counters["errors"] == {"ValidationException": 2}
    assert counters["operation_errors"] == {"DescribeModel": {"ValidationException": 2}}


def test_counter_keys_stay_bounded_under_arbitrary_operation_names(
    emulator: EmulatorThread, admin: AdminClient
) -> None:
    admin.reset_counters()
    for i in range(100):
        raw_call(emulator, b"{}", {**JSON_HEADERS, "X-Amz-Target": f"SageMaker.Bogus{i}"})
        raw_call(emulator, f"Action=Bogus{i}".encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    counters = admin.counters()
    assert counters["total"] == 200
    assert counters["operations"] == {"(unknown operation)": 200}
    assert counters["errors"] == {"UnknownOperationException": 100, "InvalidAction": 100}


def test_snapshot_covers_every_account_region_and_autoscaling(
    emulator: EmulatorThread, sm: Any, aas: Any, admin: AdminClient
) -> None:
    make_endpoint(sm, "ep")
    _register(aas, "endpoint/ep/variant/AllTraffic")
    _step_policy(aas, "endpoint/ep/variant/AllTraffic", "p")
    west = client(emulator, "sagemaker", region="eu-west-1")
    west.create_model(ModelName="w", PrimaryContainer={"Image": IMAGE})
    creds = client(emulator, "sts").assume_role(RoleArn="arn:aws:iam::444455556666:role/x", RoleSessionName="s0")[
        "Credentials"
    ]
    client(
        emulator,
        "sagemaker",
        region="us-west-2",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_model(ModelName="x", PrimaryContainer={"Image": IMAGE})
    snapshot = admin.snapshot()
    where = {(r["kind"], r["name"]): (r["account"], r["region"]) for r in snapshot["resources"]}
    assert where[("model", "w")] == (ACCOUNT, "eu-west-1")
    assert where[("model", "x")] == ("444455556666", "us-west-2")
    target = admin.resources("scalable-target")[0]
    assert (target["resource_id"], target["min_capacity"], target["max_capacity"]) == (
        "endpoint/ep/variant/AllTraffic",
        1,
        4,
    )
    policy = admin.resources("scaling-policy")[0]
    assert (policy["policy_name"], policy["policy_type"]) == ("p", "StepScaling")
    assert snapshot["durations"] == admin.durations()


def test_durations_change_at_run_time(sm: Any, admin: AdminClient) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    sm.create_endpoint(EndpointName="fast", EndpointConfigName="c")
    assert describe(sm, "fast")["EndpointStatus"] == "InService"
    assert admin.set_durations(create=30) == {"create": 30.0, "update": 0.0, "delete": 0.0, "transform": 0.0}
    sm.create_endpoint(EndpointName="slow", EndpointConfigName="c")
    assert describe(sm, "slow")["EndpointStatus"] == "Creating"
    admin.set_durations(create=0)  # only operations started afterwards change
    assert describe(sm, "slow")["EndpointStatus"] == "Creating"


# ------------------------------------------------------------------------------------ robustness
def test_many_concurrent_clients(emulator: EmulatorThread, sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    admin.reset_counters()
    errors: list[BaseException] = []
    done = Counter[str]()
    lock = threading.Lock()

    def worker() -> None:
        own = client(emulator, "sagemaker")
        for _ in range(50):
            try:
                assert own.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
                with lock:
                    done["ok"] += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert done["ok"] == 1000
    assert admin.counters()["operations"]["DescribeEndpoint"] == 1000


def test_config_features_are_stored_and_reported(sm: Any) -> None:
    make_model(sm, "m")
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    kms = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    variant = {"ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[{"VariantName": "main", **variant}],
        ShadowProductionVariants=[{"VariantName": "shadow", **variant, "InitialVariantWeight": 0.5}],
        DataCaptureConfig=capture,
        KmsKeyId=kms,
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://bucket/out"}},
    )
    config = sm.describe_endpoint_config(EndpointConfigName="c")
    assert (config["KmsKeyId"], config["DataCaptureConfig"]) == (kms, capture)
    assert config["ShadowProductionVariants"][0]["VariantName"] == "shadow"
    assert config["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"] == "s3://bucket/out"
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    described = describe(sm)
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["shadow"]
    assert described["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 20,
        "DestinationS3Uri": "s3://bucket/capture",
        "KmsKeyId": "",
    }
