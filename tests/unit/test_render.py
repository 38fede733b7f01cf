"""Rendering of CreateModel / CreateEndpointConfig requests and their revision names (pure)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

import pytest

from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.endpoint_config import (
    VariantTarget,
    render_config,
    resolve_model_names,
)
from sagemaker_operator.reconcile.model import WaitingForModel, is_ready, render_model
from sagemaker_operator.reconcile.naming import AWS_NAME_MAX, revision_of, valid_aws_name
from sagemaker_operator.reconcile.objects import ENDPOINT_CONFIG, MODEL, KubeObject, ObjectStore

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/recommender:2.3.1"
MODEL_SPEC: dict[str, Any] = {
    "region": "eu-west-1",
    "tags": {"team": "ml"},
    "deletionPolicy": "Delete",
    "revisionHistoryLimit": 3,
    "executionRoleArn": ROLE,
    "primaryContainer": {
        "image": IMAGE,
        "modelDataUrl": "s3://my-bucket/models/recommender/v1/model.tar.gz",
        "environment": {"SAGEMAKER_PROGRAM": "inference.py", "modelServerWorkers": "2", "my.setting": "on"},
    },
}
CONFIG_SPEC: dict[str, Any] = {
    "region": "eu-west-1",
    "tags": {"team": "ml"},
    "productionVariants": [
        {"variantName": "current", "modelRef": {"name": "recommender-v1"}, "instanceType": "ml.m5.xlarge",
         "initialInstanceCount": 2, "initialVariantWeight": 0.95},
        {"variantName": "candidate", "modelName": "hand-made-model", "instanceType": "ml.m5.xlarge",
         "initialInstanceCount": 1, "initialVariantWeight": 0.05},
    ],
    "shadowProductionVariants": [
        {"variantName": "shadow", "modelRef": {"name": "recommender-v2"}, "instanceType": "ml.m5.large",
         "initialInstanceCount": 1, "initialVariantWeight": 1},
    ],
}
MODELS = {"recommender-v1": "recommender-v1-aaaaaaaaaa", "recommender-v2": "recommender-v2-bbbbbbbbbb"}


def kube(kind: str, name: str, spec: Mapping[str, Any], *, namespace: str = "ml", generation: int = 1,
         status: Mapping[str, Any] | None = None, deleting: bool = False) -> KubeObject:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}",
                                "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-21T00:00:00Z"
    return KubeObject.from_body({"kind": kind, "metadata": metadata, "spec": copy.deepcopy(dict(spec)),
                                 "status": dict(status or {})})


def ready(generation: int = 1, **fields: Any) -> dict[str, Any]:
    return {"observedGeneration": generation, **fields,
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Degraded", "status": "False"}]}


# --- models ----------------------------------------------------------------------------------------------------


def test_render_model_request_drops_operator_fields_and_keeps_environment_keys() -> None:
    rendered = render_model(kube(MODEL, "recommender-v1", MODEL_SPEC), "cluster-1")
    assert rendered.request == {
        "ModelName": rendered.name,
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {
            "Image": IMAGE,
            "ModelDataUrl": "s3://my-bucket/models/recommender/v1/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "modelServerWorkers": "2", "my.setting": "on"},
        },
    }
    assert rendered.name == f"recommender-v1-{rendered.revision}"
    assert revision_of(rendered.name, "recommender-v1") == rendered.revision


def test_render_model_is_stable_and_ignores_operator_fields() -> None:
    one = render_model(kube(MODEL, "m", MODEL_SPEC), "cluster-1")
    other_tags = {**MODEL_SPEC, "tags": {"team": "search"}, "revisionHistoryLimit": 0, "deletionPolicy": "Retain"}
    assert render_model(kube(MODEL, "m", other_tags, generation=7), "cluster-1") == one


def test_render_model_changes_name_with_the_request() -> None:
    spec = copy.deepcopy(MODEL_SPEC)
    spec["primaryContainer"]["environment"]["modelServerWorkers"] = "4"
    assert render_model(kube(MODEL, "m", spec), "c").name != render_model(kube(MODEL, "m", MODEL_SPEC), "c").name


def test_equal_model_specs_in_two_namespaces_or_clusters_get_different_names() -> None:
    a = render_model(kube(MODEL, "m", MODEL_SPEC, namespace="team-a"), "c")
    b = render_model(kube(MODEL, "m", MODEL_SPEC, namespace="team-b"), "c")
    c = render_model(kube(MODEL, "m", MODEL_SPEC, namespace="team-a"), "other-cluster")
    assert len({a.name, b.name, c.name}) == 3
    assert a.request["PrimaryContainer"] == b.request["PrimaryContainer"]


@pytest.mark.parametrize("name", [
    "a" * 253,
    "recommender.v1.production.eu-west-1.very-long-team-name.example.com",
    "x.y",
    "model-1.2.3",
    "9" * 80,
])
def test_model_names_fit_aws_for_long_and_dotted_object_names(name: str) -> None:
    rendered = render_model(kube(MODEL, name, MODEL_SPEC), "c")
    assert len(rendered.name) <= AWS_NAME_MAX
    assert valid_aws_name(rendered.name), rendered.name
    assert "." not in rendered.name
    assert revision_of(rendered.name, name) == rendered.revision


def test_model_spec_with_an_unknown_member_names_the_field() -> None:
    with pytest.raises(SpecError, match=r"spec\.primaryContainer\.imagee"):
        render_model(kube(MODEL, "m", {**MODEL_SPEC, "primaryContainer": {"imagee": IMAGE}}), "c")


# --- endpoint configs ------------------------------------------------------------------------------------------


def test_render_config_resolves_model_refs_and_drops_operator_fields() -> None:
    rendered = render_config(kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC), "c", MODELS)
    assert rendered.request == {
        "EndpointConfigName": rendered.name,
        "ProductionVariants": [
            {"VariantName": "current", "ModelName": "recommender-v1-aaaaaaaaaa", "InstanceType": "ml.m5.xlarge",
             "InitialInstanceCount": 2, "InitialVariantWeight": 0.95},
            {"VariantName": "candidate", "ModelName": "hand-made-model", "InstanceType": "ml.m5.xlarge",
             "InitialInstanceCount": 1, "InitialVariantWeight": 0.05},
        ],
        "ShadowProductionVariants": [
            {"VariantName": "shadow", "ModelName": "recommender-v2-bbbbbbbbbb", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 1, "InitialVariantWeight": 1},
        ],
    }
    assert rendered.model_names == ("hand-made-model", "recommender-v1-aaaaaaaaaa", "recommender-v2-bbbbbbbbbb")
    assert rendered.variants == (VariantTarget("current", 0.95, 2), VariantTarget("candidate", 0.05, 1))
    assert valid_aws_name(rendered.name)


def test_render_config_does_not_change_the_object_spec() -> None:
    obj = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    render_config(obj, "c", MODELS)
    assert obj.spec == CONFIG_SPEC


def test_weights_only_change_keeps_the_config_name() -> None:
    before = render_config(kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC), "c", MODELS)
    spec = copy.deepcopy(CONFIG_SPEC)
    spec["productionVariants"][0].update(initialVariantWeight=0.5, initialInstanceCount=5)
    spec["productionVariants"][1].update(initialVariantWeight=0.5)
    after = render_config(kube(ENDPOINT_CONFIG, "recommender", spec), "c", MODELS)
    assert after.name == before.name
    assert after.revision == before.revision
    assert after.variants == (VariantTarget("current", 0.5, 5), VariantTarget("candidate", 0.5, 1))
    assert after.request["ProductionVariants"][0]["InitialInstanceCount"] == 5


def test_model_name_change_changes_the_config_name() -> None:
    obj = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    before = render_config(obj, "c", MODELS)
    after = render_config(obj, "c", {**MODELS, "recommender-v1": "recommender-v1-cccccccccc"})
    assert after.name != before.name
    assert after.request["ProductionVariants"][0]["ModelName"] == "recommender-v1-cccccccccc"


def test_other_variant_changes_change_the_config_name() -> None:
    before = render_config(kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC), "c", MODELS)
    spec = copy.deepcopy(CONFIG_SPEC)
    spec["productionVariants"][0]["instanceType"] = "ml.g5.xlarge"
    assert render_config(kube(ENDPOINT_CONFIG, "recommender", spec), "c", MODELS).name != before.name
    shadow = copy.deepcopy(CONFIG_SPEC)
    shadow["shadowProductionVariants"][0]["initialInstanceCount"] = 2
    assert render_config(kube(ENDPOINT_CONFIG, "recommender", shadow), "c", MODELS).name != before.name


def test_equal_config_specs_in_two_namespaces_get_different_names() -> None:
    a = render_config(kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC, namespace="team-a"), "c", MODELS)
    b = render_config(kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC, namespace="team-b"), "c", MODELS)
    assert a.name != b.name


def test_long_dotted_config_name_fits_aws() -> None:
    name = "recommender.production." + "x" * 200
    rendered = render_config(kube(ENDPOINT_CONFIG, name, CONFIG_SPEC), "c", MODELS)
    assert len(rendered.name) <= AWS_NAME_MAX
    assert valid_aws_name(rendered.name)
    assert rendered.name.startswith("recommender-production-x")


# --- model references ------------------------------------------------------------------------------------------


def context(*objects: KubeObject) -> ReconcileContext:
    store = ObjectStore()
    for obj in objects:
        store.put(obj)
    return ReconcileContext(gateway=cast(SageMakerGateway, object()), store=store, settings=OperatorSettings())


def test_resolve_model_names_takes_ready_models_of_the_same_namespace() -> None:
    v1 = kube(MODEL, "recommender-v1", MODEL_SPEC, status=ready(modelName="recommender-v1-aaaaaaaaaa"))
    v2 = kube(MODEL, "recommender-v2", MODEL_SPEC, status=ready(modelName="recommender-v2-bbbbbbbbbb"))
    config = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    assert resolve_model_names(context(v1, v2, config), config) == MODELS


def test_resolve_model_names_ignores_models_of_other_namespaces() -> None:
    elsewhere = kube(MODEL, "recommender-v1", MODEL_SPEC, namespace="other",
                     status=ready(modelName="recommender-v1-aaaaaaaaaa"))
    config = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    with pytest.raises(SpecProblem, match=r"spec\.productionVariants\[0\]\.modelRef\.name"):
        resolve_model_names(context(elsewhere), config)


def test_resolve_model_names_waits_for_a_model_that_is_not_ready() -> None:
    stale = kube(MODEL, "recommender-v1", MODEL_SPEC, generation=2, status=ready(1, modelName="old-name"))
    config = kube(ENDPOINT_CONFIG, "recommender", {"productionVariants": CONFIG_SPEC["productionVariants"][:1]})
    with pytest.raises(WaitingForModel):
        resolve_model_names(context(stale), config)


def test_resolve_model_names_rejects_deleting_models_and_double_references() -> None:
    going = kube(MODEL, "recommender-v1", MODEL_SPEC, deleting=True, status=ready(modelName="x"))
    config = kube(ENDPOINT_CONFIG, "recommender", {"productionVariants": CONFIG_SPEC["productionVariants"][:1]})
    with pytest.raises(SpecProblem, match="being deleted"):
        resolve_model_names(context(going), config)
    both = kube(ENDPOINT_CONFIG, "recommender", {"productionVariants": [
        {"variantName": "v", "modelRef": {"name": "recommender-v1"}, "modelName": "literal"}]})
    with pytest.raises(SpecProblem, match="not both"):
        resolve_model_names(context(), both)


# --- is_ready --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "generation", "expected"), [
    (ready(1), 1, True),
    (ready(1), 2, False),
    ({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]}, 1, False),
    ({"observedGeneration": 1, "conditions": [{"type": "Degraded", "status": "True"}]}, 1, False),
    ({}, 1, False),
])
def test_is_ready(status: dict[str, Any], generation: int, expected: bool) -> None:
    assert is_ready(kube(MODEL, "m", {}, generation=generation, status=status)) is expected
