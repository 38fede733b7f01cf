"""InvokeEndpoint routing, response format, and zero failed invocations during updates."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import IMAGE, error_of, make_config, make_endpoint, make_model

from sagemaker_emulator.admin import AdminClient


def test_echo_format_and_variant_header(sm: Any, rt: Any) -> None:
    make_endpoint(sm, "ep")
    response = rt.invoke_endpoint(EndpointName="ep", Body=b'{"x": [1, 2]}', ContentType="application/json")
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == "application/json"
    assert json.loads(response["Body"].read()) == {
        "endpoint": "ep",
        "endpoint_config": "ep-c1",
        "variant": "AllTraffic",
        "model": "ep-m1",
        "image": IMAGE,
        "inference_component": None,
        "input": {"x": [1, 2]},
    }
    text = rt.invoke_endpoint(EndpointName="ep", Body=b"plain text")
    assert json.loads(text["Body"].read())["input"] == "plain text"


def test_weights_and_target_variant(sm: Any, rt: Any) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("heavy", "m", 9.0, 1), ("light", "m", 1.0, 1), ("off", "m", 0.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    served = Counter(rt.invoke_endpoint(EndpointName="ep", Body=b"{}")["InvokedProductionVariant"] for _ in range(200))
    assert served["off"] == 0
    assert served["heavy"] > served["light"] > 0
    targeted = rt.invoke_endpoint(EndpointName="ep", Body=b"{}", TargetVariant="off")
    assert targeted["InvokedProductionVariant"] == "off"
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="ep", Body=b"{}", TargetVariant="nope")
    assert error_of(exc)[0] == "ValidationError"


def test_not_in_service_fails(sm: Any, rt: Any, admin: AdminClient) -> None:
    admin.set_durations(create=30)
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="ep", Body=b"{}")
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "not in service" in message


def test_invoke_async_needs_async_config(sm: Any, rt: Any) -> None:
    make_endpoint(sm, "sync")
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint_async(EndpointName="sync", InputLocation="s3://bucket/in.json")
    assert error_of(exc)[0] == "ValidationError"
    make_model(sm, "m")
    make_config(
        sm,
        "c",
        ("v", "m", 1.0, 1),
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://bucket/out"}},
    )
    sm.create_endpoint(EndpointName="async", EndpointConfigName="c")
    response = rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://bucket/in.json", InferenceId="abc")
    assert response["InferenceId"] == "abc"
    assert response["OutputLocation"] == "s3://bucket/out/abc.out"
