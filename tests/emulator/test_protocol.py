"""Wire protocols, error shapes and model-driven validation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import ACCOUNT, error_of

from sagemaker_emulator.server import EmulatorThread
from sagemaker_emulator.validation import compile_pattern, service_model, validate

NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def test_pattern_violation_names_the_member(sm_raw: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sm_raw.describe_endpoint(EndpointName="bad_name")
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_nested_members_required_enum_and_ranges_are_reported_together(sm_raw: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sm_raw.create_endpoint_config(
            EndpointConfigName="cfg",
            ProductionVariants=[
                {"VariantName": "ok", "ModelName": "m", "InstanceType": "ml.bogus", "InitialInstanceCount": 0},
                {"ModelName": "m"},
            ],
        )
    code, message, _ = error_of(exc)
    assert code == "ValidationException"
    assert message.startswith("3 validation errors detected: ")
    assert "Value 'ml.bogus' at 'productionVariants.1.member.instanceType' failed to satisfy constraint: " in message
    assert "Member must satisfy enum value set: [" in message
    assert (
        "Value '0' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1" in message
    )
    assert (
        "Value null at 'productionVariants.2.member.variantName' failed to satisfy constraint: Member must not be null"
        in message
    )


def test_list_and_string_lengths(sm_raw: Any) -> None:
    variants = [{"VariantName": f"v{i}", "ModelName": "m", "InstanceType": "ml.m5.large"} for i in range(11)]
    with pytest.raises(ClientError) as exc:
        sm_raw.create_endpoint_config(EndpointConfigName="x" * 64, ProductionVariants=variants)
    _, message, _ = error_of(exc)
    assert (
        "at 'productionVariants' failed to satisfy constraint: Member must have length less than or equal to 10"
        in message
    )
    assert (
        "at 'endpointConfigName' failed to satisfy constraint: Member must have length less than or equal to 63"
        in message
    )


def test_unknown_member_and_wrong_type(emulator: EmulatorThread) -> None:
    def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            emulator.url + "/",
            data=json.dumps(body).encode(),
            headers={"X-Amz-Target": "SageMaker.DescribeEndpoint", "Content-Type": "application/x-amz-json-1.1"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, body = post({"EndpointName": "ep", "Bogus": 1})
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert "'bogus'" in body["message"]
    status, body = post({"EndpointName": 5})
    assert (status, body["__type"]) == (400, "SerializationException")


def test_unimplemented_operation_is_named_not_a_500(sm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sm.list_training_jobs()
    code, message, status = error_of(exc)
    assert (code, status) == ("NotImplemented", 501)
    assert "SageMaker.ListTrainingJobs" in message


def test_unknown_path_answers_json(emulator: EmulatorThread) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(emulator.url + "/nothing/here")
    assert exc.value.code == 404
    assert json.loads(exc.value.read())["__type"] == "UnknownOperationException"


def test_runtime_errors_use_runtime_codes(rt: Any) -> None:
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="missing", Body=b"{}")
    assert error_of(exc) == ("ValidationError", f"Endpoint missing of account {ACCOUNT} not found.", 400)


def test_java_patterns_are_translated() -> None:
    printable = compile_pattern(r"\A\S[\p{Print}]*\z")
    assert printable is not None
    assert printable.fullmatch("abc def")
    assert not printable.fullmatch(" abc")
    ascii_only = compile_pattern(r"\p{ASCII}*")
    assert ascii_only is not None
    assert ascii_only.fullmatch("plain")
    assert not ascii_only.fullmatch("caf\u00e9")


def test_validation_uses_the_service_model_directly() -> None:
    shape = service_model("application-autoscaling").operation_model("RegisterScalableTarget").input_shape
    errors = validate(shape, {"ServiceNamespace": "nope", "ResourceId": "", "ScalableDimension": "x"})
    assert any("at 'serviceNamespace'" in e and "enum value set" in e for e in errors)
    assert any("at 'resourceId'" in e and "length greater than or equal to 1" in e for e in errors)
