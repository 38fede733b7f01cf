"""Everything the SageMaker API accepts is in the specs, or excluded on purpose; crds/ is what the generator writes.

When botocore gains a member, these tests fail until the CRDs are regenerated (or the member is excluded with a
reason in kinds.py): the CRDs never silently lag the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.api import crds
from sagemaker_operator.api.kinds import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    INFERENCE_COMPONENT,
    KINDS,
    MODEL,
    Kind,
    Overlay,
    aws_path_to_spec,
    kind_named,
    object_ref,
    path_segments,
    schema_at,
)
from sagemaker_operator.api.rules import not_both
from sagemaker_operator.api.shapes import service_model, walk_members

CRDS_FOLDER = Path(__file__).resolve().parents[2] / "crds"
MAX_CRD_BYTES = 200_000

_TYPES = {"structure": "object", "map": "object", "list": "array", "string": "string", "blob": "string",
          "timestamp": "string", "integer": "integer", "long": "integer", "float": "number", "double": "number",
          "boolean": "boolean"}


def _aws_path(path: tuple[str, ...]) -> str:
    return "".join(part if part in ("[]", "{}") else f".{part}" for part in path).lstrip(".")


def missing_members(kind: Kind, spec: dict[str, Any] | None = None) -> list[str]:
    """AWS member paths of the kind's operations that are neither in its spec schema (default: the generated one)
    nor excluded."""
    spec = spec if spec is not None else kind.spec_schema()
    missing = []
    for operation in kind.operations:
        input_shape = service_model().operation_model(operation).input_shape
        for path, member in walk_members(input_shape):
            aws_path = _aws_path(path)
            if any(aws_path == excluded or aws_path.startswith((f"{excluded}.", f"{excluded}[")) for excluded in
                   kind.excluded):
                continue
            try:
                node = schema_at(spec, aws_path_to_spec(aws_path))
            except KeyError:
                missing.append(f"{operation}: {aws_path}")
                continue
            expected_type = "object" if member.metadata.get("document") else _TYPES[member.type_name]
            if node.get("type", "object") != expected_type:
                missing.append(f"{operation}: {aws_path} has type {node.get('type')}, not {expected_type}")
    return missing


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_aws_member_is_in_the_spec_or_excluded_with_a_reason(kind: Kind) -> None:
    assert missing_members(kind) == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_exclusions_name_real_members_that_are_not_in_the_spec(kind: Kind) -> None:
    spec = kind.spec_schema()
    members = {_aws_path(path) for operation in kind.operations
               for path, _ in walk_members(service_model().operation_model(operation).input_shape)}
    for excluded, reason in kind.excluded.items():
        assert excluded in members, f"stale exclusion {excluded}: botocore has no such member"
        assert len(reason) > 20, f"exclusion {excluded} needs a real reason"
        spec_path = aws_path_to_spec(excluded)
        if ".".join(spec_path).replace(".[]", "[]") in kind.operator_only_paths:
            # Replaced by an operator field of the same name (Tags -> the tags map): not the AWS shape.
            assert schema_at(spec, spec_path)["type"] != _TYPES[_member(kind, excluded).type_name], excluded
        else:
            with pytest.raises(KeyError):
                schema_at(spec, spec_path)


def _member(kind: Kind, aws_path: str) -> Any:
    for operation in kind.operations:
        for path, member in walk_members(service_model().operation_model(operation).input_shape):
            if _aws_path(path) == aws_path:
                return member
    raise KeyError(aws_path)


def test_the_walk_catches_a_member_missing_from_the_schema() -> None:
    """The completeness check is not vacuous: a kind that drops a member without excluding it is reported."""
    hidden = Kind(kind="Hidden", plural="hiddens", short_names=(), description="x", operations=("CreateModel",),
                  excluded={"ModelName": "derived", "Tags": "common"})
    assert missing_members(hidden) == []
    trimmed = hidden.spec_schema()
    del schema_at(trimmed, "primaryContainer")["properties"]["modelDataUrl"]
    schema_at(trimmed, "vpcConfig.subnets")["type"] = "string"
    assert missing_members(hidden, trimmed) == ["CreateModel: PrimaryContainer.ModelDataUrl",
                                                "CreateModel: VpcConfig.Subnets has type string, not array"]


def test_overlays() -> None:
    config = ENDPOINT_CONFIG.spec_schema()
    for variants in ("productionVariants", "shadowProductionVariants"):
        item = schema_at(config, f"{variants}[]")
        assert "modelName" not in item.get("required", [])
        assert item["properties"]["modelRef"]["required"] == ["name"]
        assert "not" not in item  # a CEL rule says "not both", in words (api/rules.py)
    endpoint = ENDPOINT.spec_schema()
    assert "oneOf" not in endpoint
    assert "required" not in endpoint  # both AWS-required names are filled in by the operator
    assert sorted(endpoint["properties"]) == sorted([
        "endpointName", "endpointConfigName", "endpointConfigRef", "deploymentConfig", "retainAllVariantProperties",
        "excludeRetainedVariantProperties", "retainDeploymentConfig", "region", "assumeRoleArn", "tags",
        "deletionPolicy", "autoscaling"])
    policy = endpoint["properties"]["autoscaling"]["items"]["properties"]["policies"]["items"]
    assert "oneOf" not in policy
    assert policy["x-kubernetes-validations"][0]["message"] == "set exactly one of targetTracking and stepScaling"
    assert "targetValue" in policy["properties"]["targetTracking"]["properties"]
    component = INFERENCE_COMPONENT.spec_schema()
    assert "oneOf" not in component
    assert "not" not in component["properties"]["specification"]
    assert component["properties"]["autoscaling"]["required"] == ["minCopies", "maxCopies"]
    assert INFERENCE_COMPONENT.operator_only_paths == {
        "region", "assumeRoleArn", "tags", "deletionPolicy", "endpointRef", "autoscaling",
        "specification.modelRef"}
    for kind in (MODEL, ENDPOINT_CONFIG):
        limit = kind.spec_schema()["properties"]["revisionHistoryLimit"]
        assert (limit["default"], limit["minimum"]) == (2, 0)
    assert "revisionHistoryLimit" not in endpoint["properties"]
    assert ENDPOINT_CONFIG.operator_only_paths == {
        "region", "assumeRoleArn", "tags", "deletionPolicy", "revisionHistoryLimit",
        "productionVariants[].modelRef", "shadowProductionVariants[].modelRef"}


def test_common_fields_are_documented_everywhere() -> None:
    for kind in KINDS:
        properties = kind.spec_schema()["properties"]
        tags = properties["tags"]
        assert tags["maxProperties"] == 45  # AWS allows 50; the operator adds 5 ownership tags
        assert tags["additionalProperties"]["maxLength"] == 256
        assert properties["deletionPolicy"] == {**properties["deletionPolicy"], "enum": ["Delete", "Retain"],
                                                "default": "Delete"}
        assert properties["region"]["pattern"] == r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
        assert all(len(properties[name]["description"]) > 30 for name in properties), kind.kind


def _nodes(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, child in schema.get("properties", {}).items():
        found += _nodes(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _nodes(schema["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_schemas_are_structural(kind: Kind) -> None:
    """Every node has a type or preserves unknown fields; logical junctors only carry ``required``."""
    document = crds.crd(kind)
    root = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _nodes(root):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        assert not ("properties" in node and "additionalProperties" in node), path
        for junctor in ("oneOf", "anyOf", "allOf", "not"):
            branches = node.get(junctor, [])
            for branch in branches if isinstance(branches, list) else [branches]:
                assert set(branch) == {"required"}, f"{path}.{junctor}"


def test_crd_metadata() -> None:
    document = crds.crd(ENDPOINT)
    spec = document["spec"]
    assert document["metadata"]["name"] == "sagemakerendpoints.sagemaker.operator.dev"
    assert spec["names"] == {"kind": "SageMakerEndpoint", "listKind": "SageMakerEndpointList",
                             "plural": "sagemakerendpoints", "singular": "sagemakerendpoint",
                             "shortNames": ["smendpoint"], "categories": ["sagemaker"]}
    version = spec["versions"][0]
    assert (version["name"], version["served"], version["storage"], version["subresources"]) == (
        "v1alpha1", True, True, {"status": {}})
    assert [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]] == [
        ("Status", ".status.endpointStatus"), ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        ("AWS Name", ".status.endpointName"), ("Age", ".metadata.creationTimestamp")]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    # Everything the operator writes is declared (generated from the typed status), so nothing is kept unchecked.
    assert "x-kubernetes-preserve-unknown-fields" not in status
    assert {"observedGeneration", "clusterId", "conditions", "region", "endpointName", "endpointArn",
            "endpointStatus", "failureReason", "endpointUrl", "currentEndpointConfigName", "desiredEndpointConfigName",
            "failedEndpointConfigName", "lastDeployment", "productionVariants", "autoscaling", "recreating",
            "observedRetry", "tagsDigest", "lastModifiedTime"} == set(status["properties"])
    assert status["properties"]["lastDeployment"]["properties"]["outcome"]["enum"] == [
        "InProgress", "Succeeded", "Failed"]
    assert status["properties"]["autoscaling"]["properties"]["targets"]["items"]["required"] == [
        "name", "resourceId", "scalableDimension", "minCapacity", "maxCapacity"]
    condition = status["properties"]["conditions"]["items"]["properties"]
    assert condition["status"]["enum"] == ["True", "False", "Unknown"]
    assert condition["lastTransitionTime"]["format"] == "date-time"
    model_columns = crds.crd(MODEL)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in model_columns] == ["Ready", "Reason", "AWS Name", "Age"]
    assert [kind_named(name) for name in ("smmodel", "sagemakerendpointconfigs", "SageMakerEndpoint")] == [
        MODEL, ENDPOINT_CONFIG, ENDPOINT]


def test_crds_folder_is_up_to_date() -> None:
    """If this fails: python -m sagemaker_operator.api.crds --write crds/"""
    assert crds.stale(CRDS_FOLDER) == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_crds_fit_client_side_apply(kind: Kind) -> None:
    """kubectl apply keeps the whole object (as JSON) in an annotation limited to 256 KiB."""
    text = (CRDS_FOLDER / crds.file_name(kind)).read_text()
    assert len(text.encode()) < MAX_CRD_BYTES
    assert len(json.dumps(yaml.safe_load(text), separators=(",", ":")).encode()) < MAX_CRD_BYTES


def test_generation_is_deterministic() -> None:
    assert [crds.render(kind) for kind in KINDS] == [crds.render(kind) for kind in KINDS]


def test_check_command_lists_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crds.main(["--write", str(tmp_path)]) == 0
    assert crds.main(["--check", str(tmp_path)]) == 0
    capsys.readouterr()
    (tmp_path / crds.file_name(MODEL)).write_text("edited")
    (tmp_path / crds.file_name(ENDPOINT)).unlink()
    (tmp_path / "old.sagemaker.operator.dev.yaml").write_text("")
    assert crds.main(["--check", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == sorted(lines[:2]) + lines[2:]
    assert {line.split(": ")[1] for line in lines} == {"missing", "out of date", "not a current kind"}
    assert len(lines) == 3


def test_a_fourth_kind_is_a_small_declarative_addition() -> None:
    """The SageMakerInferenceComponent shape of things to come, declared here only: the machinery handles it."""
    inference_component = Kind(
        kind="SageMakerInferenceComponent", plural="sagemakerinferencecomponents", short_names=("smic",),
        description="A SageMaker inference component.", operations=("CreateInferenceComponent",),
        excluded={"InferenceComponentName": "derived", "Tags": "common tags map"},
        overlays=(Overlay(at="specification", optional=("ModelName",),
                          add={"modelRef": object_ref("SageMakerModel", "The model.")}),),
        rules=(not_both("modelName", "modelRef", "specification"),),
    )
    spec = inference_component.spec_schema()
    assert schema_at(spec, "specification.modelRef.name")["pattern"]
    assert missing_members(inference_component) == []
    request = inference_component.request({
        "endpointName": "ep", "variantName": "v", "region": "eu-west-1",
        "specification": {"modelRef": {"name": "m"}, "modelName": "m-abc",
                          "computeResourceRequirements": {"minMemoryRequiredInMb": 1024}},
        "runtimeConfig": {"copyCount": 1}}, fill={"InferenceComponentName": "ic-abc"})
    assert request == {"EndpointName": "ep", "VariantName": "v", "InferenceComponentName": "ic-abc",
                       "Specification": {"ModelName": "m-abc",
                                         "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
                       "RuntimeConfig": {"CopyCount": 1}}


def test_path_segments() -> None:
    assert path_segments("productionVariants[].modelRef") == ["productionVariants", "[]", "modelRef"]
    assert path_segments("") == []
    assert aws_path_to_spec("ProductionVariants[].ServerlessConfig.MemorySizeInMB") == [
        "productionVariants", "[]", "serverlessConfig", "memorySizeInMB"]


def test_crd_reference_is_current() -> None:
    from sagemaker_operator.api import reference

    committed = (Path(__file__).resolve().parents[2] / "docs" / "crd-reference.md").read_text()
    assert committed == reference.render(), \
        "docs/crd-reference.md is stale: python -m sagemaker_operator.api.reference --write docs/crd-reference.md"
    for kind in KINDS:
        assert f"## {kind.kind}" in committed
