"""The CRD field reference (docs/crd-reference.md), generated from the same schemas as the CRDs.

    python -m sagemaker_operator.api.reference --write docs/crd-reference.md
    python -m sagemaker_operator.api.reference --check docs/crd-reference.md   # exit 1 when stale

Every field of every kind, with its type, constraints and description: what `kubectl explain` shows, on one page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sagemaker_operator.api.kinds import API_VERSION, KINDS, Kind

Schema = dict[str, Any]


def _type(schema: Schema) -> str:
    kind = schema.get("type")
    if kind == "array":
        return f"[]{_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map[string]{_type(schema['additionalProperties'])}"
    if schema.get("x-kubernetes-preserve-unknown-fields") and not kind:
        return "any"
    return str(kind or "any")


def _constraints(schema: Schema) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    for key, label in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length"),
                       ("maxLength", "max length"), ("minItems", "min items"), ("maxItems", "max items"),
                       ("maxProperties", "max entries"), ("default", "default")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if "pattern" in schema and len(schema["pattern"]) <= 60:
        parts.append(f"pattern `{schema['pattern']}`")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(schema: Schema, path: str, required: bool) -> Iterator[tuple[str, str, bool, str, str]]:
    yield path, _type(schema), required, _constraints(schema), str(schema.get("description", ""))
    target = schema
    suffix = ""
    while target.get("type") == "array":
        target, suffix = target.get("items", {}), suffix + "[]"
    if target.get("type") == "object" and isinstance(target.get("additionalProperties"), dict):
        target, suffix = target["additionalProperties"], suffix + "{}"
    needed = set(target.get("required", ()))
    for name, member in sorted((target.get("properties") or {}).items()):
        yield from _rows(member, f"{path}{suffix}.{name}", name in needed)


def kind_section(kind: Kind) -> str:
    """The reference of one kind: a table of every spec field, its rules, and a table of every status field."""
    lines = [f"## {kind.kind}", "", f"`apiVersion: {API_VERSION}`, `kind: {kind.kind}`, short name "
             f"`{', '.join(kind.short_names)}`. {kind.description}", "",
             "| Field | Type | Required | Constraints | Description |", "|---|---|---|---|---|"]
    spec = kind.spec_schema()
    for path, type_, required, constraints, description in _rows(spec, "spec", True):
        if path == "spec":
            continue
        lines.append(f"| `{path}` | {_cell(type_)} | {'yes' if required else ''} | {_cell(constraints)} | "
                     f"{_cell(description)} |")
    lines += ["", "Rules checked by `kubectl apply` (Kubernetes >= 1.25; on older servers the operator reports the "
              "object Degraded with the same message):", ""]
    if kind.immutable_name:
        lines.append(f"- `spec.{kind.immutable_name.member}`: {kind.immutable_name.message}.")
    for rule in kind.all_rules:
        where = "spec" + (f".{rule.at}" if rule.at else "") + (f".{rule.field_path}" if rule.field_path else "")
        lines.append(f"- `{where}`: {rule.message}.")
    lines += ["", "Status, written by the operator only:", "", "| Field | Type | Description |", "|---|---|---|"]
    status: Schema = {"type": "object", "properties": dict(kind.status)}
    for path, type_, _, _, description in _rows(status, "status", False):
        if path != "status":
            lines.append(f"| `{path}` | {_cell(type_)} | {_cell(description)} |")
    return "\n".join(lines)


def render() -> str:
    """The whole reference page."""
    intro = ("# CRD reference\n\nGenerated from the operator's schemas (botocore's SageMaker model plus the operator's "
             "fields) by `python -m sagemaker_operator.api.reference --write docs/crd-reference.md`; do not edit. "
             "`kubectl explain <kind>.spec.<field>` shows the same descriptions. AWS members keep AWS's meaning: see "
             "the SageMaker API reference for the details cut short here. `x[]` is an item of list `x`, `x{}` a "
             "value of map `x`.\n")
    return intro + "\n" + "\n\n".join(kind_section(kind) for kind in KINDS) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--write FILE`` or ``--check FILE``."""
    parser = argparse.ArgumentParser(prog="python -m sagemaker_operator.api.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="FILE", type=Path)
    action.add_argument("--check", metavar="FILE", type=Path)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.write.write_text(text)
        print(f"wrote {args.write} ({len(text)} characters)")
        return 0
    if not args.check.exists() or args.check.read_text() != text:
        print(f"{args.check} is stale: python -m sagemaker_operator.api.reference --write {args.check}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
