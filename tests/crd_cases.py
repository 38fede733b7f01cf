"""Manifests for the CRD tests: a valid spec per kind, and bad ones, each with where and why it must be refused.

``BAD`` breaks the plain schema (every API server refuses it); ``RULE_BREAKS`` breaks a CEL rule (api/rules.py):
Kubernetes >= 1.25 refuses it at apply, older servers accept it and the operator reports it Degraded, both with
the rule's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import rules
from sagemaker_operator.api.kinds import ENDPOINT, ENDPOINT_CONFIG, INFERENCE_COMPONENT, MODEL, TRANSFORM_JOB, Kind

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"

VALID: dict[str, dict[str, Any]] = {
    MODEL.kind: {
        "region": "eu-west-1",
        "executionRoleArn": ROLE,
        "primaryContainer": {
            "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:1",
            "modelDataUrl": "s3://bucket/model.tar.gz",
            "environment": {"SAGEMAKER_PROGRAM": "inference.py", "lower_case": "x y"},
        },
        "vpcConfig": {"securityGroupIds": ["sg-0123"], "subnets": ["subnet-0a", "subnet-0b"]},
        "tags": {"team": "ml", "cost-center": "42"},
    },
    ENDPOINT_CONFIG.kind: {
        "productionVariants": [
            {"variantName": "blue", "modelRef": {"name": "my-model"}, "instanceType": "ml.m5.large",
             "initialInstanceCount": 2, "initialVariantWeight": 0.5},
            {"variantName": "serverless", "modelName": "existing-model",
             "serverlessConfig": {"memorySizeInMB": 2048, "maxConcurrency": 5}},
            {"variantName": "for-inference-components", "instanceType": "ml.g5.xlarge", "initialInstanceCount": 1},
        ],
        "dataCaptureConfig": {"initialSamplingPercentage": 10, "destinationS3Uri": "s3://bucket/capture",
                              "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}]},
        "deletionPolicy": "Retain",
    },
    ENDPOINT.kind: {
        "endpointConfigRef": {"name": "my-config"},
        "deploymentConfig": {"blueGreenUpdatePolicy": {
            "trafficRoutingConfiguration": {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 60}}},
        "retainAllVariantProperties": True,
        "excludeRetainedVariantProperties": [{"variantPropertyType": "DesiredInstanceCount"}],
        "assumeRoleArn": ROLE,
    },
    INFERENCE_COMPONENT.kind: {
        "endpointRef": {"name": "my-endpoint"},
        "variantName": "main",
        "specification": {"modelRef": {"name": "llm"}, "computeResourceRequirements": {
            "numberOfCpuCoresRequired": 2, "minMemoryRequiredInMb": 4096, "numberOfAcceleratorDevicesRequired": 1}},
        "runtimeConfig": {"copyCount": 2},
        "autoscaling": {"minCopies": 1, "maxCopies": 4, "policies": [{"policyName": "per-copy", "targetTracking": {
            "targetValue": 5.0, "predefinedMetricSpecification": {
                "predefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}}}]},
    },
    TRANSFORM_JOB.kind: {
        "modelRef": {"name": "scorer"},
        "batchStrategy": "MultiRecord",
        "maxPayloadInMB": 6,
        "transformInput": {"dataSource": {"s3DataSource": {"s3DataType": "S3Prefix", "s3Uri": "s3://in/batch/"}},
                           "contentType": "text/csv", "splitType": "Line"},
        "transformOutput": {"s3OutputPath": "s3://out/batch/", "assembleWith": "Line"},
        "transformResources": {"instanceType": "ml.m5.xlarge", "instanceCount": 1},
        "dataProcessing": {"inputFilter": "$[1:]", "joinSource": "Input", "outputFilter": "$[0,-1]"},
        "backoffLimit": 2,
        "activeDeadlineSeconds": 3600,
    },
}

Mutation = Callable[[dict[str, Any]], None]


def set_value(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b[0].c`` in a spec."""
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value
    return mutate


def delete(path: str) -> Mutation:
    """A mutation removing ``a.b`` from a spec."""
    def mutate(spec: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = spec
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return mutate


def unindexed(text: str) -> str:
    """A field path without list indexes: Kubernetes 1.20 names list items without them, newer servers with."""
    return re.sub(r"\[\d+\]", "", text)


def _many_variants(spec: dict[str, Any]) -> None:
    variant = spec["productionVariants"][0]
    spec["productionVariants"] = [{**variant, "variantName": f"v{i}"} for i in range(11)]


# (id, kind, mutation, text the refusal must contain: the field path).
BAD: list[tuple[str, Kind, Mutation, str]] = [
    ("endpointName-too-long", ENDPOINT, set_value("endpointName", "e" * 64), "spec.endpointName"),
    ("endpointName-underscore", ENDPOINT, set_value("endpointName", "my_endpoint"), "spec.endpointName"),
    ("negative-weight", ENDPOINT_CONFIG, set_value("productionVariants[0].initialVariantWeight", -1),
     "spec.productionVariants[0].initialVariantWeight"),
    ("zero-instances", ENDPOINT_CONFIG, set_value("productionVariants[0].initialInstanceCount", 0),
     "spec.productionVariants[0].initialInstanceCount"),
    ("eleven-variants", ENDPOINT_CONFIG, _many_variants, "spec.productionVariants"),
    ("unknown-instance-type", ENDPOINT_CONFIG, set_value("productionVariants[0].instanceType", "ml.huge.9000xl"),
     "spec.productionVariants[0].instanceType"),
    ("wrong-type", ENDPOINT_CONFIG, set_value("productionVariants[0].initialInstanceCount", "two"),
     "spec.productionVariants[0].initialInstanceCount"),
    ("deletionPolicy-Keep", MODEL, set_value("deletionPolicy", "Keep"), "spec.deletionPolicy"),
    ("region-Mars", MODEL, set_value("region", "Mars"), "spec.region"),
    ("tag-value-too-long", MODEL, set_value("tags.team", "x" * 257), "spec.tags.team"),
    ("tag-value-bad-character", MODEL, set_value("tags.team", "a#b"), "spec.tags.team"),
    ("too-many-tags", MODEL, set_value("tags", {f"k{i}": "v" for i in range(46)}), "spec.tags"),
    ("bad-assumeRoleArn", ENDPOINT, set_value("assumeRoleArn", "role/x"), "spec.assumeRoleArn"),
    ("modelRef-not-an-object-name", ENDPOINT_CONFIG, set_value("productionVariants[0].modelRef.name", "My_Model"),
     "spec.productionVariants[0].modelRef.name"),
    ("modelRef-without-name", ENDPOINT_CONFIG, set_value("productionVariants[0].modelRef", {}),
     "spec.productionVariants[0].modelRef.name"),
    ("negative-revisionHistoryLimit", MODEL, set_value("revisionHistoryLimit", -1), "spec.revisionHistoryLimit"),
    ("no-variants", ENDPOINT_CONFIG, delete("productionVariants"), "spec.productionVariants"),
    ("environment-value-not-a-string", MODEL, set_value("primaryContainer.environment.N", 3),
     "spec.primaryContainer.environment.N"),
    ("execution-role-pattern", MODEL, set_value("executionRoleArn", "arn:aws:iam::12:role/x"),
     "spec.executionRoleArn"),
    ("traffic-routing-enum", ENDPOINT,
     set_value("deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type", "SOMETIMES"),
     "spec.deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type"),
    ("component-autoscaling-without-max", INFERENCE_COMPONENT, delete("autoscaling.maxCopies"),
     "spec.autoscaling.maxCopies"),
    ("variant-autoscaling-negative-min", ENDPOINT, set_value("autoscaling", [
        {"variantName": "blue", "minCapacity": -1, "maxCapacity": 2}]), "spec.autoscaling[0].minCapacity"),
    ("serverless-missing-required", ENDPOINT_CONFIG, set_value("productionVariants[1].serverlessConfig",
                                                          {"memorySizeInMB": 2048}),
     "spec.productionVariants[1].serverlessConfig.maxConcurrency"),
]



@dataclass(frozen=True)
class RuleBreak:
    """A spec that breaks one rule: the object the rule sits on (``where``) and the rule's message."""

    case: str
    kind: Kind
    mutate: Mutation
    where: str
    message: str


def _one_variant_with_shadow(shadow: dict[str, Any]) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        spec["productionVariants"] = spec["productionVariants"][:1]
        spec["shadowProductionVariants"] = [shadow]
    return mutate


_SHADOW = {"variantName": "shadow", "modelRef": {"name": "my-model-v2"}, "instanceType": "ml.m5.large",
           "initialInstanceCount": 1}
_POLICY = {"policyName": "p", "targetTracking": {"targetValue": 5.0, "predefinedMetricSpecification": {
    "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}

RULE_BREAKS: list[RuleBreak] = [
    RuleBreak("no-endpoint-config", ENDPOINT, delete("endpointConfigRef"), "spec", rules.ONE_ENDPOINT_CONFIG),
    RuleBreak("both-endpoint-configs", ENDPOINT, set_value("endpointConfigName", "literal"), "spec",
              rules.ONE_ENDPOINT_CONFIG),
    RuleBreak("variant-modelName-and-modelRef", ENDPOINT_CONFIG, set_value("productionVariants[0].modelName", "m"),
              "spec.productionVariants[0]", rules.NOT_BOTH_MODELS),
    RuleBreak("shadow-modelName-and-modelRef", ENDPOINT_CONFIG,
              _one_variant_with_shadow({**_SHADOW, "modelName": "m"}), "spec.shadowProductionVariants[0]",
              rules.NOT_BOTH_MODELS),
    RuleBreak("serverless-with-instances", ENDPOINT_CONFIG, set_value("productionVariants[1].instanceType",
                                                                     "ml.m5.large"),
              "spec.productionVariants[1]", rules.SERVERLESS_XOR_INSTANCES),
    RuleBreak("duplicate-variant-names", ENDPOINT_CONFIG, set_value("productionVariants[1].variantName", "blue"),
              "spec.productionVariants", rules.UNIQUE_VARIANT_NAMES),
    RuleBreak("shadow-named-like-a-variant", ENDPOINT_CONFIG, _one_variant_with_shadow({**_SHADOW,
                                                                                       "variantName": "blue"}),
              "spec.productionVariants", rules.UNIQUE_VARIANT_NAMES),
    RuleBreak("shadow-with-two-variants", ENDPOINT_CONFIG, set_value("shadowProductionVariants", [_SHADOW]),
              "spec.shadowProductionVariants", rules.SHADOW_NEEDS_ONE_VARIANT),
    RuleBreak("autoscaling-min-above-max", ENDPOINT, set_value("autoscaling", [
        {"variantName": "blue", "minCapacity": 5, "maxCapacity": 2}]), "spec.autoscaling[0]", rules.CAPACITY_RANGE),
    RuleBreak("autoscaling-duplicate-policy", ENDPOINT, set_value("autoscaling", [
        {"variantName": "blue", "minCapacity": 1, "maxCapacity": 2, "policies": [_POLICY, _POLICY]}]),
              "spec.autoscaling[0].policies", rules.UNIQUE_POLICY_NAMES),
    RuleBreak("policy-both-kinds", INFERENCE_COMPONENT, set_value("autoscaling.policies[0].stepScaling", {}),
              "spec.autoscaling.policies[0]", rules.ONE_POLICY_TYPE),
    RuleBreak("policy-no-kind", INFERENCE_COMPONENT, set_value("autoscaling.policies[0]", {"policyName": "p"}),
              "spec.autoscaling.policies[0]", rules.ONE_POLICY_TYPE),
    RuleBreak("variant-policy-both-kinds", ENDPOINT, set_value("autoscaling", [
        {"variantName": "blue", "minCapacity": 1, "maxCapacity": 2, "policies": [{**_POLICY, "stepScaling": {}}]}]),
              "spec.autoscaling[0].policies[0]", rules.ONE_POLICY_TYPE),
    RuleBreak("component-duplicate-policy", INFERENCE_COMPONENT, set_value("autoscaling.policies", [_POLICY, _POLICY]),
              "spec.autoscaling.policies", rules.UNIQUE_POLICY_NAMES),
    RuleBreak("component-copies-min-above-max", INFERENCE_COMPONENT, set_value("autoscaling.minCopies", 9),
              "spec.autoscaling", rules.COPIES_RANGE),
    RuleBreak("component-both-endpoints", INFERENCE_COMPONENT, set_value("endpointName", "literal"), "spec",
              rules.ONE_ENDPOINT),
    RuleBreak("component-no-endpoint", INFERENCE_COMPONENT, delete("endpointRef"), "spec", rules.ONE_ENDPOINT),
    RuleBreak("component-modelName-and-modelRef", INFERENCE_COMPONENT, set_value("specification.modelName", "m"),
              "spec.specification", rules.NOT_BOTH_MODELS),
    RuleBreak("transform-both-models", TRANSFORM_JOB, set_value("modelName", "m"), "spec", rules.ONE_MODEL),
    RuleBreak("transform-no-model", TRANSFORM_JOB, delete("modelRef"), "spec", rules.ONE_MODEL),
    RuleBreak("tag-key-aws-prefix", MODEL, set_value("tags", {"aws:owner": "me"}), "spec.tags", rules.TAG_KEYS),
    RuleBreak("tag-key-too-long", MODEL, set_value("tags", {"k" * 129: "v"}), "spec.tags", rules.TAG_KEYS),
    RuleBreak("tag-key-bad-character", MODEL, set_value("tags", {"a#b": "v"}), "spec.tags", rules.TAG_KEYS),
]
