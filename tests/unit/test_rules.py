"""The validation rules (api/rules.py): the operator's Python copy agrees with the cases the API server refuses, and
every rule reaches the CRDs. The API server's side runs in tests/integration/test_crds.py on the same cases."""

from __future__ import annotations

import copy

import pytest

from sagemaker_operator.api import crds, rules
from sagemaker_operator.api.kinds import ENDPOINT, INFERENCE_COMPONENT, KINDS, Kind, schema_at
from tests.crd_cases import RULE_BREAKS, VALID, RuleBreak


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_valid_specs_break_no_rule(kind: Kind) -> None:
    assert rules.problems(kind.all_rules, VALID[kind.kind]) == []


@pytest.mark.parametrize("bad", RULE_BREAKS, ids=lambda bad: bad.case)
def test_the_operator_refuses_what_the_api_server_refuses_with_the_same_message(bad: RuleBreak) -> None:
    spec = copy.deepcopy(VALID[bad.kind.kind])
    bad.mutate(spec)
    found = rules.problems(bad.kind.all_rules, spec)
    assert len(found) == 1, found
    assert found[0].startswith(f"{bad.where}: {bad.message}")


def test_every_rule_has_a_case() -> None:
    covered = {(bad.kind.kind, bad.message) for bad in RULE_BREAKS}
    uncovered = {(kind.kind, rule.message) for kind in KINDS for rule in kind.rules} - covered
    assert not uncovered
    assert {rule.message for rule in rules.COMMON_RULES} <= {message for _, message in covered}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_rule_is_in_the_crd_where_it_applies(kind: Kind) -> None:
    root = crds.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for rule in kind.all_rules:
        assert rule.schema() in schema_at(root["properties"]["spec"], rule.at)["x-kubernetes-validations"]
    assert root.get("x-kubernetes-validations", []) == kind.root_validations()


def test_problems_name_each_offending_item_with_details() -> None:
    spec = {"productionVariants": [
        {"variantName": "a", "modelName": "m", "modelRef": {"name": "m"}, "instanceType": "ml.m5.large"},
        {"variantName": "a", "serverlessConfig": {"memorySizeInMB": 2048, "maxConcurrency": 1},
         "initialInstanceCount": 1}],
        "tags": {"aws:x": "1", "ok": "2"}}
    assert rules.problems(KINDS[1].all_rules, spec) == [
        f"spec.tags: {rules.TAG_KEYS} (tag key 'aws:x': the aws: prefix is reserved by AWS)",
        f"spec.productionVariants[0]: {rules.NOT_BOTH_MODELS}",
        f"spec.productionVariants[1]: {rules.SERVERLESS_XOR_INSTANCES}",
        f"spec.productionVariants: {rules.UNIQUE_VARIANT_NAMES} (repeated: a)",
    ]


def test_immutable_names() -> None:
    assert ENDPOINT.immutable_name is rules.ENDPOINT_NAME
    assert INFERENCE_COMPONENT.immutable_name is rules.INFERENCE_COMPONENT_NAME
    rule = rules.ENDPOINT_NAME.schema()
    assert rule["fieldPath"] == ".spec.endpointName"
    assert "oldSelf.spec.endpointName" in rule["rule"] and "self.metadata.name" in rule["rule"]
    assert rules.ENDPOINT_NAME.problem("a", "b") == (
        f"{rules.ENDPOINT_NAME.message} (this object manages endpoint 'a', not 'b')")
