"""botocore shape -> OpenAPI schema: naming, descriptions, patterns, types, recursion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sagemaker_operator.api.kinds import KINDS, schema_at
from sagemaker_operator.api.shapes import (
    SchemaStats,
    anchored,
    camel_name,
    description,
    make_shape,
    member_names,
    re2_problem,
    service_model,
    shape_schema,
    walk_members,
)


@pytest.mark.parametrize(("aws", "camel"), [
    ("KmsKeyId", "kmsKeyId"),
    ("S3Uri", "s3Uri"),
    ("KMSKeyId", "kmsKeyId"),
    ("EnableSSMAccess", "enableSSMAccess"),
    ("VpcConfig", "vpcConfig"),
    ("ARN", "arn"),
    ("EC2InstanceType", "ec2InstanceType"),
    ("MemorySizeInMB", "memorySizeInMB"),
    ("ModelDataUrl", "modelDataUrl"),
    ("IAMRoleArn", "iamRoleArn"),
    ("A", "a"),
    ("already", "already"),
])
def test_camel_name(aws: str, camel: str) -> None:
    assert camel_name(aws) == camel


def _structures_reachable_from_kinds() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind in KINDS:
        for operation in kind.operations:
            root = service_model().operation_model(operation).input_shape
            found[root.name] = root
            for _, member in walk_members(root):
                if member.type_name == "structure":
                    found[member.name] = member
    return found


def test_camel_names_are_one_to_one_in_every_reachable_shape() -> None:
    structures = _structures_reachable_from_kinds()
    assert len(structures) > 40  # the walk really went deep
    for structure in structures.values():
        names = member_names(structure)  # raises on a collision
        assert sorted(names.values()) == sorted(structure.members)


def test_member_names_refuses_a_collision() -> None:
    collide = make_shape("Collide", {"Collide": {"type": "structure", "members": {
        "KMSKey": {"shape": "S"}, "KmsKey": {"shape": "S"}}}, "S": {"type": "string"}})
    with pytest.raises(ValueError, match="both map to kmsKey"):
        member_names(collide)


def test_description_keeps_the_first_paragraph_as_plain_text() -> None:
    html = ("<p> The <code>KmsKeyId</code> of a <a href=\"x\">key</a> &amp; more.</p> <p>Second paragraph.</p>"
            "<ul><li><p>list</p></li></ul>")
    assert description(html) == "The KmsKeyId of a key & more."


def test_description_skips_empty_leading_paragraphs_and_collapses_whitespace() -> None:
    assert description("<p></p>\n<p>Two\n   lines .</p>") == "Two lines."


def test_long_description_is_cut_at_a_sentence_end() -> None:
    text = "<p>" + "This sentence has exactly forty-two chars. " * 20 + "</p>"
    cut = description(text)
    assert len(cut) <= 400
    assert cut.endswith("chars.")


def test_long_description_without_sentences_is_cut_at_a_word() -> None:
    cut = description("<p>" + "word " * 200 + "</p>")
    assert len(cut) <= 404
    assert cut.endswith("word ...")


def test_generated_descriptions_respect_the_cap() -> None:
    for kind in KINDS:
        texts = re.findall(r"'description': '((?:[^'\\]|\\.)*)'", repr(kind.spec_schema()))
        assert texts
        assert max(len(text) for text in texts) <= 420, kind.kind


@pytest.mark.parametrize(("pattern", "problem"), [
    (r"(?!\s*$).+", "lookahead"),
    (r"/(?=x).+", "lookahead"),
    (r"[a-z]+(?<!-)", "lookbehind"),
    (r"(?<=a)b", "lookbehind"),
    (r"(a)\1", "backreference"),
    (r"(?<n>a)\k<n>", "Java named group"),
    (r"a++", "possessive quantifier"),
    (r"a{2}+", "possessive quantifier"),
    (r"(?>ab)", "atomic group"),
    (r"abc\Z", "Java-only escape"),
    (r"[\u0020-\uD7FF]*", "Java-only escape"),
    (r"\p{Alnum}+", "Java character class \\p{Alnum}"),
    (r"\p{javaLowerCase}", "Java character class \\p{javaLowerCase}"),
    (r"[a-z&&[^b]]", "Java class intersection"),
    (r".{0,4096}", "repeat count above RE2's limit of 1000"),
])
def test_re2_problems_are_found(pattern: str, problem: str) -> None:
    assert re2_problem(pattern) == problem


@pytest.mark.parametrize("pattern", [
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)",
    r"\p{Greek}+",
    r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    r"\\1 is a literal backslash and a one",
    r"[\S\s]*",
    r".{0,1000}",
])
def test_re2_compatible_patterns_pass(pattern: str) -> None:
    assert re2_problem(pattern) is None


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain for the reference RE2")
def test_re2_detector_agrees_with_go_on_every_sagemaker_pattern(tmp_path: Path) -> None:
    """Ground truth: Go's regexp (what the API server uses) over every pattern of the SageMaker model."""
    model = service_model()
    patterns = sorted({model.shape_for(name).metadata["pattern"] for name in model.shape_names
                       if "pattern" in model.shape_for(name).metadata})
    (tmp_path / "patterns.json").write_text(json.dumps(patterns))
    (tmp_path / "main.go").write_text("""package main
import ("encoding/json"; "fmt"; "os"; "regexp")
func main() {
    var patterns []string
    data, _ := os.ReadFile(os.Args[1])
    json.Unmarshal(data, &patterns)
    out := map[string]bool{}
    for _, p := range patterns { _, err := regexp.Compile(p); out[p] = err == nil }
    encoded, _ := json.Marshal(out)
    fmt.Println(string(encoded))
}
""")
    run = subprocess.run(["go", "run", "main.go", "patterns.json"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, check=True, env={**os.environ, "GO111MODULE": "off"})
    compiles: dict[str, bool] = json.loads(run.stdout)
    disagreements = {p: re2_problem(p) for p, ok in compiles.items() if (re2_problem(p) is None) != ok}
    assert not disagreements
    assert not all(compiles.values())  # the model does have RE2-incompatible patterns


def test_patterns_are_anchored_for_full_match() -> None:
    assert anchored("[a-z]+") == "^(?:[a-z]+)$"
    assert anchored("^[a-z]+$") == "^[a-z]+$"
    endpoint_name = schema_at(KINDS[2].spec_schema(), "endpointName")
    assert endpoint_name["pattern"] == "^(?:[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})$"
    assert endpoint_name["maxLength"] == 63


def test_dropped_patterns_are_counted() -> None:
    dropped = {name: problem for kind in KINDS for name, problem in kind.schema_stats().dropped_patterns.items()}
    assert dropped.get("AlarmName") == "lookahead"
    for kind in KINDS:
        assert "(?!" not in json.dumps(kind.spec_schema())


SYNTHETIC: dict[str, Any] = {
    "Root": {"type": "structure", "required": ["Name"], "members": {
        "Name": {"shape": "Name", "documentation": "<p>The name.</p>"},
        "Count": {"shape": "Count"},
        "Big": {"shape": "Big"},
        "Ratio": {"shape": "Ratio"},
        "Flag": {"shape": "Flag"},
        "When": {"shape": "When"},
        "Data": {"shape": "Data"},
        "Doc": {"shape": "Doc"},
        "Env": {"shape": "Env"},
        "Items": {"shape": "Items"},
        "Child": {"shape": "Node"},
        "Empty": {"shape": "Empty"},
        "Kind": {"shape": "Kind"},
    }},
    "Name": {"type": "string", "min": 1, "max": 63, "pattern": "[a-z]+"},
    "Count": {"type": "integer", "min": 1, "max": 10},
    "Big": {"type": "long", "min": 0},
    "Ratio": {"type": "float", "min": 0, "max": 1.5},
    "Flag": {"type": "boolean"},
    "When": {"type": "timestamp"},
    "Data": {"type": "blob"},
    "Doc": {"type": "structure", "members": {}, "document": True},
    "Env": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}, "max": 5},
    "Items": {"type": "list", "member": {"shape": "Name"}, "min": 1, "max": 3},
    "Node": {"type": "structure", "members": {"Next": {"shape": "Node"}, "Label": {"shape": "Name"}}},
    "Empty": {"type": "structure", "members": {}},
    "Kind": {"type": "string", "enum": ["A", "B"]},
}


def test_every_type_maps_to_a_structural_schema() -> None:
    schema = shape_schema(make_shape("Root", SYNTHETIC))
    props = schema["properties"]
    assert schema["required"] == ["name"]
    assert props["name"] == {"type": "string", "description": "The name.", "minLength": 1, "maxLength": 63,
                             "pattern": "^(?:[a-z]+)$"}
    assert props["count"] == {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10}
    assert props["big"] == {"type": "integer", "format": "int64", "minimum": 0}
    assert props["ratio"] == {"type": "number", "format": "float", "minimum": 0, "maximum": 1.5}
    assert props["flag"] == {"type": "boolean"}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["data"] == {"type": "string", "format": "byte"}
    assert props["doc"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["env"]["additionalProperties"]["type"] == "string"
    assert props["env"]["maxProperties"] == 5
    assert "minProperties" not in props["env"]  # min 0 is no constraint
    assert props["items"]["minItems"] == 1 and props["items"]["maxItems"] == 3
    assert props["empty"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["kind"] == {"type": "string", "enum": ["A", "B"]}


def test_recursive_shapes_end_in_a_preserved_object() -> None:
    stats = SchemaStats()
    schema = shape_schema(make_shape("Root", SYNTHETIC), stats=stats)
    child = schema["properties"]["child"]
    assert child["properties"]["next"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert child["properties"]["label"]["type"] == "string"
    assert stats.recursive_shapes == {"Node"}
    assert [path for path, _ in walk_members(make_shape("Node", SYNTHETIC))] == [("Next",), ("Label",)]


def test_real_constraints_come_through() -> None:
    config = KINDS[1].spec_schema()
    variants = schema_at(config, "productionVariants")
    assert (variants["minItems"], variants["maxItems"]) == (1, 10)
    assert schema_at(config, "productionVariants[].initialInstanceCount")["minimum"] == 1
    assert schema_at(config, "productionVariants[].initialVariantWeight")["minimum"] == 0
    assert "ml.m5.large" in schema_at(config, "productionVariants[].instanceType")["enum"]
    model = KINDS[0].spec_schema()
    environment = schema_at(model, "primaryContainer.environment")
    assert environment["maxProperties"] == 100
    assert environment["additionalProperties"]["type"] == "string"
