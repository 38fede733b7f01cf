"""Validation rules a plain schema cannot say, written once for two enforcers.

Each :class:`Rule` is a CEL expression that goes into the CRD (``x-kubernetes-validations``), so that Kubernetes
>= 1.25 refuses a bad manifest at ``kubectl apply`` with the rule's message, and the same check in Python, which the
operator runs on every reconcile: on older API servers (1.20 drops CEL rules silently) the object is accepted and
then goes Degraded (InvalidSpec) with the same message. A test drives every rule through both.

Messages name the field in words a user understands; the API server prefixes them with the path of the object the
rule sits on (``spec.productionVariants[0]: Invalid value: "object": set modelRef or modelName, not both``), and the
operator writes the same ``path: message``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]

NOT_BOTH_MODELS = "set modelRef or modelName, not both"
ONE_ENDPOINT_CONFIG = "set exactly one of endpointConfigRef and endpointConfigName"
ONE_ENDPOINT = "set exactly one of endpointRef and endpointName"
ONE_MODEL = "set exactly one of modelRef and modelName"
ONE_POLICY_TYPE = "set exactly one of targetTracking and stepScaling"
SERVERLESS_XOR_INSTANCES = "a serverless variant (serverlessConfig) takes no instanceType or initialInstanceCount"
UNIQUE_VARIANT_NAMES = "variant names must be unique across productionVariants and shadowProductionVariants"
SHADOW_NEEDS_ONE_VARIANT = ("with shadowProductionVariants, set exactly one production variant and one shadow "
                            "variant (SageMaker's limit for shadow testing)")
CAPACITY_RANGE = "minCapacity must not be above maxCapacity"
COPIES_RANGE = "minCopies must not be above maxCopies"
UNIQUE_POLICY_NAMES = "policy names must be unique"
TAG_KEYS = ("tag keys must be 1 to 128 letters, digits, spaces or _.:/=+-@ characters and must not start with "
            "aws: (reserved by AWS)")

# Why a rule failed in Python, beyond its message (which keys, which values); None when it holds.
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Rule:
    """One validation rule on the object at ``at`` (a camelCase spec path, ``[]`` for list items, "" for spec)."""

    at: str
    cel: str
    message: str
    check: Check
    field_path: str = ""  # a member of that object the error points at (CEL fieldPath), e.g. "productionVariants"

    def schema(self) -> Schema:
        """The ``x-kubernetes-validations`` entry."""
        entry: Schema = {"rule": self.cel, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = f".{self.field_path}"
        return entry


@dataclass(frozen=True)
class ImmutableName:
    """A spec member that names the AWS resource, defaulting to metadata.name: it cannot change once created.

    A transition rule (``oldSelf``) at the root of the CRD; the operator's side of it compares with the name its
    status recorded, since a reconcile sees no old object.
    """

    member: str
    what: str  # "endpoint", "inference component"

    @property
    def message(self) -> str:
        """The refusal, the same from the API server and the operator."""
        return (f"spec.{self.member} is immutable: it is the {self.what}'s name in SageMaker (default: "
                f"metadata.name); create a new object to use another name")

    def of(self, spec: Mapping[str, Any], metadata_name: str) -> str:
        """The AWS name a spec asks for: the member, else metadata.name (the rule the CEL rule encodes too)."""
        return str(spec.get(self.member) or metadata_name)

    def problem(self, recorded: str, wanted: str) -> str:
        """The operator's refusal of a name that differs from the one its status recorded at creation."""
        return f"{self.message} (this object manages {self.what} {recorded!r}, not {wanted!r})"

    def schema(self) -> Schema:
        """The ``x-kubernetes-validations`` entry at the root of the CRD schema."""
        def effective(obj: str) -> str:
            return f"(has({obj}.spec.{self.member}) ? {obj}.spec.{self.member} : {obj}.metadata.name)"
        return {"rule": f"{effective('self')} == {effective('oldSelf')}", "message": self.message,
                "fieldPath": f".spec.{self.member}"}


ENDPOINT_NAME = ImmutableName("endpointName", "endpoint")
INFERENCE_COMPONENT_NAME = ImmutableName("inferenceComponentName", "inference component")


def _has(node: Any, member: str) -> bool:
    return isinstance(node, Mapping) and node.get(member) is not None


def _holds(condition: Callable[[Any], bool]) -> Check:
    return lambda node: None if condition(node) else ""


def _repeated(names: list[Any]) -> str | None:
    """The names that occur more than once, as a detail of a uniqueness rule; None when all are unique."""
    repeated = sorted({str(name) for name in names if names.count(name) > 1})
    return f"repeated: {', '.join(repeated)}" if repeated else None


def not_both(first: str, second: str, at: str) -> Rule:
    """``first`` and ``second`` are alternatives; one of them may be set, not both."""
    return Rule(at, f"!(has(self.{first}) && has(self.{second}))", NOT_BOTH_MODELS,
                _holds(lambda node: not (_has(node, first) and _has(node, second))))


def exactly_one(first: str, second: str, message: str, at: str = "") -> Rule:
    """Exactly one of ``first`` and ``second`` is set."""
    return Rule(at, f"has(self.{first}) != has(self.{second})", message,
                _holds(lambda node: _has(node, first) != _has(node, second)))


def at_most(low: str, high: str, message: str, at: str) -> Rule:
    """``low <= high`` (both required by the schema)."""
    def check(node: Any) -> str | None:
        if not (_has(node, low) and _has(node, high)) or node[low] <= node[high]:
            return None
        return f"{low} {node[low]}, {high} {node[high]}"
    return Rule(at, f"self.{low} <= self.{high}", message, check)


def unique_within(member: str, message: str, at: str, key: str) -> Rule:
    """The items of list ``member`` have distinct ``key`` values."""
    def check(node: Any) -> str | None:
        return _repeated([item.get(key) for item in (node.get(member) or []) if isinstance(item, Mapping)])
    return Rule(at, f"!has(self.{member}) || self.{member}.all(a, self.{member}.exists_one(b, b.{key} == a.{key}))",
                message, check, field_path=member)


def variant_rules(at: str) -> tuple[Rule, ...]:
    """Each production or shadow variant: modelRef or modelName, serverless or instances."""
    return (
        not_both("modelName", "modelRef", at),
        Rule(at, "!has(self.serverlessConfig) || !(has(self.instanceType) || has(self.initialInstanceCount))",
             SERVERLESS_XOR_INSTANCES,
             _holds(lambda node: not _has(node, "serverlessConfig")
                    or not (_has(node, "instanceType") or _has(node, "initialInstanceCount")))),
    )


def _variant_names_unique(spec: Any) -> str | None:
    return _repeated([v.get("variantName") for group in ("productionVariants", "shadowProductionVariants")
                      for v in (spec.get(group) or []) if isinstance(v, Mapping)])


def _shadow_pair(spec: Any) -> str | None:
    shadows, variants = spec.get("shadowProductionVariants"), spec.get("productionVariants") or []
    if not shadows or (len(variants) == 1 and len(shadows) == 1):
        return None
    return f"{len(variants)} production and {len(shadows)} shadow variants"


ENDPOINT_CONFIG_RULES: tuple[Rule, ...] = (
    *variant_rules("productionVariants[]"),
    *variant_rules("shadowProductionVariants[]"),
    Rule("", "!has(self.productionVariants) || self.productionVariants.all(v, "
             "self.productionVariants.exists_one(w, w.variantName == v.variantName) && "
             "(!has(self.shadowProductionVariants) || "
             "!self.shadowProductionVariants.exists(s, s.variantName == v.variantName))) && "
             "(!has(self.shadowProductionVariants) || self.shadowProductionVariants.all(s, "
             "self.shadowProductionVariants.exists_one(w, w.variantName == s.variantName)))",
         UNIQUE_VARIANT_NAMES, _variant_names_unique, field_path="productionVariants"),
    Rule("", "!has(self.shadowProductionVariants) || "
             "(size(self.productionVariants) == 1 && size(self.shadowProductionVariants) == 1)",
         SHADOW_NEEDS_ONE_VARIANT, _shadow_pair, field_path="shadowProductionVariants"),
)

ENDPOINT_RULES: tuple[Rule, ...] = (
    exactly_one("endpointConfigRef", "endpointConfigName", ONE_ENDPOINT_CONFIG),
    at_most("minCapacity", "maxCapacity", CAPACITY_RANGE, "autoscaling[]"),
    unique_within("policies", UNIQUE_POLICY_NAMES, "autoscaling[]", "policyName"),
    exactly_one("targetTracking", "stepScaling", ONE_POLICY_TYPE, "autoscaling[].policies[]"),
)

TRANSFORM_JOB_RULES: tuple[Rule, ...] = (
    exactly_one("modelRef", "modelName", ONE_MODEL),
)
INFERENCE_COMPONENT_RULES: tuple[Rule, ...] = (
    exactly_one("endpointRef", "endpointName", ONE_ENDPOINT),
    not_both("modelName", "modelRef", "specification"),
    at_most("minCopies", "maxCopies", COPIES_RANGE, "autoscaling"),
    unique_within("policies", UNIQUE_POLICY_NAMES, "autoscaling", "policyName"),
    exactly_one("targetTracking", "stepScaling", ONE_POLICY_TYPE, "autoscaling.policies[]"),
)

_TAG_PUNCTUATION = set("_.:/=+-@")


def tag_key_problems(tags: Mapping[str, str]) -> list[str]:
    """What is wrong with the keys of a spec's ``tags``, key by key.

    AWS tag keys: 1-128 characters of letters, numbers, separators and ``_.:/=+-@``; ``aws:`` is reserved.
    """
    problems = []
    for key in sorted(tags):
        if not 1 <= len(key) <= 128:
            problems.append(f"tag key {key!r}: must be 1 to 128 characters")
        elif key.lower().startswith("aws:"):
            problems.append(f"tag key {key!r}: the aws: prefix is reserved by AWS")
        elif bad := sorted({c for c in key if c not in _TAG_PUNCTUATION
                            and unicodedata.category(c)[0] not in ("L", "Z", "N")}):
            problems.append(f"tag key {key!r}: characters not allowed: {''.join(bad)!r}")
    return problems


def _tag_keys(tags: Any) -> str | None:
    problems = tag_key_problems({str(k): str(v) for k, v in (tags or {}).items()})
    return "; ".join(problems) if problems else None


# The API server cannot check map keys with a plain schema; CEL can.
COMMON_RULES: tuple[Rule, ...] = (
    Rule("tags", r"self.all(k, size(k) >= 1 && size(k) <= 128 && !k.lowerAscii().startsWith('aws:') && "
                 r"k.matches('^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]*$'))",
         TAG_KEYS, _tag_keys),
)

_SEGMENT = re.compile(r"\[\]|[^.\[\]]+")


def _nodes_at(node: Any, segments: list[str], path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every object at ``segments`` below ``node``; absent members yield nothing."""
    if not segments:
        if isinstance(node, Mapping):
            yield path, node
        return
    head, rest = segments[0], segments[1:]
    if head == "[]":
        for index, item in enumerate(node if isinstance(node, list) else []):
            yield from _nodes_at(item, rest, f"{path}[{index}]")
    elif isinstance(node, Mapping) and node.get(head) is not None:
        yield from _nodes_at(node[head], rest, f"{path}.{head}")


def problems(rules: tuple[Rule, ...], spec: Mapping[str, Any]) -> list[str]:
    """Every rule that ``spec`` breaks, as ``spec.path: message (details)``: the operator's side of the rules."""
    found = []
    for rule in rules:
        for path, node in _nodes_at(spec, _SEGMENT.findall(rule.at), "spec"):
            detail = rule.check(node)
            if detail is not None:
                where = f"{path}.{rule.field_path}" if rule.field_path else path
                found.append(f"{where}: {rule.message}" + (f" ({detail})" if detail else ""))
    return found
