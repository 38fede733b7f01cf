"""Helpers shared by the emulator tests (plain boto3 clients, polling with deadlines)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest

from sagemaker_emulator.server import EmulatorThread

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/inference:1"
IMAGE2 = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/inference:2"
# No retries, so injected faults are visible (in legacy retry mode "max_attempts": 1 still retries once).
NO_RETRY = botocore.config.Config(retries={"total_max_attempts": 1})
RAW = botocore.config.Config(retries={"total_max_attempts": 1}, parameter_validation=False)


def client(emulator: EmulatorThread, service: str, region: str = REGION, raw: bool = False, **creds: str) -> Any:
    """A plain boto3 client pointed at the emulator (raw = no client-side validation)."""
    keys = creds or {"aws_access_key_id": "AKIAEMULATORTEST", "aws_secret_access_key": "secret"}
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name=region,
        config=RAW if raw else NO_RETRY,
        **keys,
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def statuses_until(sm: Any, name: str, final: set[str], timeout: float = 10.0) -> list[str]:
    """Describe repeatedly; return the distinct successive statuses up to one in ``final``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in final:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"endpoint {name} never reached {final}; saw {seen}")


def make_model(sm: Any, name: str, image: str = IMAGE, **extra: Any) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": image, **extra}, ExecutionRoleArn=ROLE)


def make_config(sm: Any, name: str, *variants: tuple[str, str, float, int], **extra: Any) -> None:
    """variants: (variant name, model name, weight, instance count)."""
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": m,
                "InitialVariantWeight": w,
                "InitialInstanceCount": c,
                "InstanceType": "ml.g5.xlarge",
            }
            for v, m, w, c in variants
        ],
        **extra,
    )


def make_endpoint(sm: Any, name: str, image: str = IMAGE, count: int = 2) -> None:
    """Model + config + endpoint, waiting for InService (durations are 0 unless changed)."""
    make_model(sm, f"{name}-m1", image)
    make_config(sm, f"{name}-c1", ("AllTraffic", f"{name}-m1", 1.0, count))
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_until(lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")


def error_of(exc_info: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response = exc_info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def ic_host(sm: Any, name: str = "host", *, wait: bool = False, **extra: Any) -> None:
    """An endpoint for inference components (a variant without a model), its config ``NAME-cfg``; ``extra`` goes
    to CreateEndpoint (Tags)."""
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[{"VariantName": "main", "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": 1}],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg", **extra)
    if wait:
        wait_until(lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")


def create_ic(sm: Any, name: str = "ic", **extra: Any) -> str:
    """An inference component of one copy on endpoint ``host``; its ARN. ``extra`` goes to the call (Tags)."""
    return str(
        sm.create_inference_component(
            InferenceComponentName=name,
            EndpointName="host",
            VariantName="main",
            Specification={
                "Container": {"Image": IMAGE},
                "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024},
            },
            RuntimeConfig={"CopyCount": 1},
            **extra,
        )["InferenceComponentArn"]
    )
