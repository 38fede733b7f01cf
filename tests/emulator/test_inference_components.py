"""Inference components: placement rules, lifecycle, updates with rollback, invocation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, IMAGE, IMAGE2, REGION, ROLE, error_of, make_endpoint, make_model, wait_until

from sagemaker_emulator.admin import AdminClient

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"


def ic_endpoint(sm: Any) -> None:
    sm.create_endpoint_config(
        EndpointConfigName="ic-cfg",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[{"VariantName": "main", "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": 1}],
    )
    sm.create_endpoint(EndpointName="host", EndpointConfigName="ic-cfg")
    wait_until(lambda: sm.describe_endpoint(EndpointName="host")["EndpointStatus"] == "InService")


def spec(image: str = IMAGE) -> dict[str, Any]:
    return {
        "Container": {"Image": image},
        "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024, "NumberOfAcceleratorDevicesRequired": 1},
    }


def create_ic(sm: Any, name: str = "ic", image: str = IMAGE, copies: int = 1) -> str:
    return str(
        sm.create_inference_component(
            InferenceComponentName=name,
            EndpointName="host",
            VariantName="main",
            Specification=spec(image),
            RuntimeConfig={"CopyCount": copies},
        )["InferenceComponentArn"]
    )


def ic_status(sm: Any, name: str = "ic") -> str:
    return str(sm.describe_inference_component(InferenceComponentName=name)["InferenceComponentStatus"])


def test_requires_an_endpoint_built_for_components(sm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        create_ic(sm)
    assert error_of(exc)[1] == f'Could not find endpoint "{ARN}:endpoint/host".'
    make_endpoint(sm, "host")  # variants with ModelName: not for inference components
    with pytest.raises(ClientError) as exc:
        create_ic(sm)
    assert error_of(exc)[0] == "ValidationException"


def test_lifecycle_copy_count_and_delete(sm: Any, admin: AdminClient) -> None:
    ic_endpoint(sm)
    admin.set_durations(create=0.3, update=0.3, delete=0.3)
    arn = create_ic(sm, copies=2)
    assert arn == f"{ARN}:inference-component/ic"
    assert ic_status(sm) == "Creating"
    wait_until(lambda: ic_status(sm) == "InService")
    described = sm.describe_inference_component(InferenceComponentName="ic")
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 2, "CurrentCopyCount": 2}
    assert described["Specification"]["Container"]["DeployedImage"]["SpecifiedImage"] == IMAGE
    with pytest.raises(ClientError) as exc:
        create_ic(sm)
    assert error_of(exc)[1] == f'Cannot create already existing inference component "{arn}".'
    sm.update_inference_component_runtime_config(InferenceComponentName="ic", DesiredRuntimeConfig={"CopyCount": 4})
    during = sm.describe_inference_component(InferenceComponentName="ic")
    assert during["InferenceComponentStatus"] == "Updating"
    assert during["RuntimeConfig"] == {"DesiredCopyCount": 4, "CurrentCopyCount": 2}
    wait_until(lambda: ic_status(sm) == "InService")
    assert sm.describe_inference_component(InferenceComponentName="ic")["RuntimeConfig"]["CurrentCopyCount"] == 4
    listed = sm.list_inference_components(EndpointNameEquals="host")["InferenceComponents"]
    assert [c["InferenceComponentName"] for c in listed] == ["ic"]
    sm.delete_inference_component(InferenceComponentName="ic")
    assert ic_status(sm) == "Deleting"
    wait_until(lambda: not sm.list_inference_components()["InferenceComponents"])


def test_failed_component(sm: Any) -> None:
    ic_endpoint(sm)
    create_ic(sm, image="registry/fail-image:1")
    described = sm.describe_inference_component(InferenceComponentName="ic")
    assert described["InferenceComponentStatus"] == "Failed"
    assert described["FailureReason"]


def test_update_with_rollback_on_alarm(sm: Any, rt: Any, admin: AdminClient) -> None:
    ic_endpoint(sm)
    create_ic(sm, copies=2)
    admin.set_durations(update=0.2)
    deployment = {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1}, "WaitIntervalInSeconds": 30},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ic-errors"}]},
    }
    sm.update_inference_component(InferenceComponentName="ic", Specification=spec(IMAGE2), DeploymentConfig=deployment)
    assert ic_status(sm) == "Updating"
    body = json.loads(rt.invoke_endpoint(EndpointName="host", InferenceComponentName="ic", Body=b"1")["Body"].read())
    assert body["inference_component"] == "ic"
    admin.set_alarm("ic-errors", "ALARM")
    wait_until(lambda: ic_status(sm) == "InService")
    described = sm.describe_inference_component(InferenceComponentName="ic")
    assert described["Specification"]["Container"]["DeployedImage"]["SpecifiedImage"] == IMAGE
    assert "ic-errors" in described["FailureReason"]


def test_update_succeeds_and_records_deployment_config(sm: Any, rt: Any) -> None:
    ic_endpoint(sm)
    create_ic(sm)
    deployment = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 0,
        }
    }
    sm.update_inference_component(InferenceComponentName="ic", Specification=spec(IMAGE2), DeploymentConfig=deployment)
    described = sm.describe_inference_component(InferenceComponentName="ic")
    assert described["InferenceComponentStatus"] == "InService"
    assert described["LastDeploymentConfig"] == deployment
    body = json.loads(rt.invoke_endpoint(EndpointName="host", InferenceComponentName="ic", Body=b"{}")["Body"].read())
    assert body["image"] == IMAGE2


def test_invocation_needs_component_name(sm: Any, rt: Any) -> None:
    ic_endpoint(sm)
    make_model(sm, "unused")
    create_ic(sm)
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="host", Body=b"{}")
    assert error_of(exc)[0] == "ValidationError"
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="host", Body=b"{}", InferenceComponentName="other")
    assert error_of(exc)[0] == "ValidationError"
