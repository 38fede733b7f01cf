"""Spec <-> AWS request conversion, checked against exact requests and botocore's own parameter validator."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from botocore.validate import ParamValidator

from sagemaker_operator.api import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    MODEL,
    SpecError,
    from_aws,
    tags_from_aws,
    tags_to_aws,
    to_aws,
)
from sagemaker_operator.api.rules import tag_key_problems
from sagemaker_operator.api.shapes import make_shape, service_model

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"


def assert_valid_request(operation: str, request: dict[str, Any]) -> None:
    """botocore's client-side validation, exactly as a real call would run it."""
    report = ParamValidator().validate(request, service_model().operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


ENDPOINT_CONFIG_SPEC: dict[str, Any] = {
    "region": "eu-west-1",
    "assumeRoleArn": ROLE,
    "deletionPolicy": "Delete",
    "revisionHistoryLimit": 2,
    "tags": {"team": "ml"},
    "kmsKeyId": "alias/ExampleAlias",
    "productionVariants": [
        {"variantName": "blue", "modelRef": {"name": "my-model"},
         "instanceType": "ml.g5.xlarge", "initialInstanceCount": 2, "initialVariantWeight": 0.7,
         "enableSSMAccess": True, "volumeSizeInGB": 64,
         "managedInstanceScaling": {"status": "ENABLED", "minInstanceCount": 1, "maxInstanceCount": 4},
         "routingConfig": {"routingStrategy": "LEAST_OUTSTANDING_REQUESTS"}},
        {"variantName": "serverless", "modelName": "other-model",
         "serverlessConfig": {"memorySizeInMB": 2048, "maxConcurrency": 5, "provisionedConcurrency": 1},
         "initialVariantWeight": 0.3},
    ],
    "shadowProductionVariants": [
        {"variantName": "shadow", "modelName": "candidate-9f8e", "instanceType": "ml.m5.large",
         "initialInstanceCount": 1, "initialVariantWeight": 1},
    ],
    "dataCaptureConfig": {
        "enableCapture": True, "initialSamplingPercentage": 20, "destinationS3Uri": "s3://bucket/capture",
        "kmsKeyId": "alias/capture",
        "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
        "captureContentTypeHeader": {"csvContentTypes": ["text/csv"], "jsonContentTypes": ["application/json"]},
    },
    "asyncInferenceConfig": {
        "clientConfig": {"maxConcurrentInvocationsPerInstance": 4},
        "outputConfig": {"s3OutputPath": "s3://bucket/async-out", "s3FailurePath": "s3://bucket/async-fail",
                         "notificationConfig": {
                             "successTopic": "arn:aws:sns:eu-west-1:123456789012:ok",
                             "errorTopic": "arn:aws:sns:eu-west-1:123456789012:err",
                             "includeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]}},
    },
}

ENDPOINT_CONFIG_REQUEST: dict[str, Any] = {
    "KmsKeyId": "alias/ExampleAlias",
    "ProductionVariants": [
        {"VariantName": "blue", "ModelName": "my-model-1a2b3c",
         "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 2, "InitialVariantWeight": 0.7,
         "EnableSSMAccess": True, "VolumeSizeInGB": 64,
         "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 4},
         "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}},
        {"VariantName": "serverless", "ModelName": "other-model",
         "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 1},
         "InitialVariantWeight": 0.3},
    ],
    "ShadowProductionVariants": [
        {"VariantName": "shadow", "ModelName": "candidate-9f8e", "InstanceType": "ml.m5.large",
         "InitialInstanceCount": 1, "InitialVariantWeight": 1},
    ],
    "DataCaptureConfig": {
        "EnableCapture": True, "InitialSamplingPercentage": 20, "DestinationS3Uri": "s3://bucket/capture",
        "KmsKeyId": "alias/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    },
    "AsyncInferenceConfig": {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
        "OutputConfig": {"S3OutputPath": "s3://bucket/async-out", "S3FailurePath": "s3://bucket/async-fail",
                         "NotificationConfig": {
                             "SuccessTopic": "arn:aws:sns:eu-west-1:123456789012:ok",
                             "ErrorTopic": "arn:aws:sns:eu-west-1:123456789012:err",
                             "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]}},
    },
}


def test_full_endpoint_config_gives_the_exact_request() -> None:
    spec = copy.deepcopy(ENDPOINT_CONFIG_SPEC)
    # What the reconciler does first: resolve the reference to the AWS name of the SageMakerModel's revision.
    spec["productionVariants"][0]["modelName"] = "my-model-1a2b3c"
    resolved = copy.deepcopy(spec)
    fill = {"EndpointConfigName": "my-config-abc123", "Tags": tags_to_aws(spec["tags"])}
    request = ENDPOINT_CONFIG.request(spec, fill=fill)
    assert request == {**ENDPOINT_CONFIG_REQUEST, **fill}
    assert_valid_request("CreateEndpointConfig", request)
    assert spec == resolved  # the input is not modified


def test_from_aws_is_the_inverse_for_aws_members() -> None:
    back = from_aws("CreateEndpointConfigInput", ENDPOINT_CONFIG_REQUEST)
    expected = copy.deepcopy(ENDPOINT_CONFIG_SPEC)
    for operator_only in ("region", "assumeRoleArn", "deletionPolicy", "revisionHistoryLimit", "tags"):
        del expected[operator_only]
    blue = expected["productionVariants"][0]
    del blue["modelRef"]
    blue["modelName"] = "my-model-1a2b3c"
    assert back == expected


def test_model_environment_keys_are_never_renamed() -> None:
    spec = {
        "region": "us-east-1", "revisionHistoryLimit": 3, "executionRoleArn": ROLE,
        "primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1",
            "modelDataUrl": "s3://bucket/model.tar.gz",
            "environment": {"SAGEMAKER_PROGRAM": "inference.py", "camelCaseVar": "1", "HF_MODEL_ID": "x"},
            "imageConfig": {"repositoryAccessMode": "Platform"},
        },
        "vpcConfig": {"securityGroupIds": ["sg-1"], "subnets": ["subnet-1"]},
        "enableNetworkIsolation": False,
    }
    request = MODEL.request(spec, fill={"ModelName": "m-1"})
    assert request == {
        "ModelName": "m-1", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1",
            "ModelDataUrl": "s3://bucket/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "camelCaseVar": "1", "HF_MODEL_ID": "x"},
            "ImageConfig": {"RepositoryAccessMode": "Platform"},
        },
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        "EnableNetworkIsolation": False,
    }
    assert_valid_request("CreateModel", request)
    assert from_aws("CreateModelInput", request)["primaryContainer"]["environment"] == spec["primaryContainer"][
        "environment"]


def test_endpoint_create_and_update_take_their_own_members() -> None:
    spec = {
        "endpointConfigRef": {"name": "cfg"}, "endpointName": "ep", "retainAllVariantProperties": True,
        "excludeRetainedVariantProperties": [{"variantPropertyType": "DesiredWeight"}],
        "retainDeploymentConfig": False, "deletionPolicy": "Retain",
        "deploymentConfig": {
            "blueGreenUpdatePolicy": {
                "trafficRoutingConfiguration": {"type": "CANARY", "waitIntervalInSeconds": 300,
                                                "canarySize": {"type": "CAPACITY_PERCENT", "value": 10}},
                "terminationWaitInSeconds": 120, "maximumExecutionTimeoutInSeconds": 1800},
            "autoRollbackConfiguration": {"alarms": [{"alarmName": "ep-5xx"}]},
        },
    }
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 300,
                                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            "TerminationWaitInSeconds": 120, "MaximumExecutionTimeoutInSeconds": 1800},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ep-5xx"}]},
    }
    fill = {"EndpointConfigName": "cfg-abc"}
    create = ENDPOINT.request(spec, fill=fill)
    assert create == {"EndpointName": "ep", "EndpointConfigName": "cfg-abc", "DeploymentConfig": deployment}
    assert_valid_request("CreateEndpoint", create)
    update = ENDPOINT.request(spec, operation="UpdateEndpoint", fill=fill)
    assert update == {**create, "RetainAllVariantProperties": True, "RetainDeploymentConfig": False,
                      "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}]}
    assert_valid_request("UpdateEndpoint", update)


def test_unknown_member_names_its_spec_path() -> None:
    spec = copy.deepcopy(ENDPOINT_CONFIG_SPEC)
    spec["productionVariants"][1]["serverlessConfig"]["memorySize"] = 1
    with pytest.raises(SpecError) as error:
        ENDPOINT_CONFIG.request(spec)
    assert error.value.path == "spec.productionVariants[1].serverlessConfig.memorySize"
    assert "ProductionVariantServerlessConfig has no member 'memorySize'" in str(error.value)


def test_operator_fields_are_unknown_without_the_kind() -> None:
    with pytest.raises(SpecError, match=r"^spec\.region: "):
        to_aws("CreateModelInput", {"region": "eu-west-1"})
    assert to_aws("CreateModelInput", {"region": "eu-west-1"}, ignore={"region"}) == {}


def test_ignore_paths_reach_into_lists() -> None:
    spec = {"productionVariants": [{"variantName": "a", "modelRef": {"name": "m"}}]}
    assert to_aws("CreateEndpointConfigInput", spec, ignore={"productionVariants[].modelRef"}) == {
        "ProductionVariants": [{"VariantName": "a"}]}
    with pytest.raises(SpecError, match=r"spec\.productionVariants\[0\]\.modelRef"):
        to_aws("CreateEndpointConfigInput", spec)


def test_wrong_container_types_name_the_path() -> None:
    with pytest.raises(SpecError, match=r"^spec\.productionVariants: expected a list"):
        to_aws("CreateEndpointConfigInput", {"productionVariants": {"variantName": "a"}})
    with pytest.raises(SpecError, match=r"^spec\.primaryContainer\.environment: expected a map"):
        to_aws("CreateModelInput", {"primaryContainer": {"environment": ["A=1"]}})


def test_none_means_unset() -> None:
    assert to_aws("CreateModelInput", {"executionRoleArn": None, "enableNetworkIsolation": True}) == {
        "EnableNetworkIsolation": True}


SYNTHETIC: dict[str, Any] = {
    "Root": {"type": "structure", "members": {"Data": {"shape": "Data"}, "Doc": {"shape": "Doc"},
                                              "When": {"shape": "When"}}},
    "Data": {"type": "blob"},
    "Doc": {"type": "structure", "members": {}, "document": True},
    "When": {"type": "timestamp"},
}


def test_blobs_documents_and_timestamps() -> None:
    root = make_shape("Root", SYNTHETIC)
    document = {"AnyKey": [1, {"nested": True}]}
    assert to_aws(root, {"data": "aGk=", "doc": document}) == {"Data": b"hi", "Doc": document}
    with pytest.raises(SpecError, match=r"spec\.data: expected base64"):
        to_aws(root, {"data": "not base64!"})
    when = datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)
    assert from_aws(root, {"Data": b"hi", "Doc": document, "When": when}) == {
        "data": "aGk=", "doc": document, "when": "2026-11-21T00:00:00+00:00"}


def test_from_aws_keeps_members_of_a_newer_api_unless_strict() -> None:
    assert from_aws("ProductionVariant", {"VariantName": "a", "FutureThing": {"X": 1}}) == {
        "variantName": "a", "futureThing": {"X": 1}}
    with pytest.raises(KeyError, match="FutureThing"):
        from_aws("ProductionVariant", {"FutureThing": 1}, strict=True)


def test_tags() -> None:
    tags = {"b": "2", "a": "1"}
    assert tags_to_aws(tags) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert tags_from_aws(tags_to_aws(tags)) == tags


def test_tag_key_problems() -> None:
    assert tag_key_problems({"team": "", "cost-center/é 1": "", "a:b=c+d@e_f.g": ""}) == []
    problems = tag_key_problems({"": "", "aws:x": "", "k" * 129: "", "bad#key": "", "ok": ""})
    assert len(problems) == 4
    assert any("aws: prefix" in p for p in problems)
    assert any("'#'" in p for p in problems)
