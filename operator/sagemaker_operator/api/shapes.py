"""botocore shapes -> OpenAPI v3 schemas for CRDs, with camelCase member names.

The SageMaker API moves faster than any hand-written schema, so the spec schemas are generated from the service model
that botocore ships. The schemas must be *structural* (Kubernetes 1.20+): every node has a type, except nodes that
preserve unknown fields. Patterns must compile with Go's RE2, which the API server uses.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.loaders
import botocore.model
import botocore.session

SERVICE = "sagemaker"
DESCRIPTION_LIMIT = 400

Schema = dict[str, Any]


@functools.cache
def data_loader() -> Any:
    """One botocore data loader for the whole process, shared by every botocore session (see :func:`session`).

    Each session otherwise has a loader of its own, and loads and keeps its own copy of the SageMaker service model
    (about 17 MB): one for these schemas, and one per region and role the operator's clients work in.
    """
    return botocore.loaders.create_loader()


def session() -> botocore.session.Session:
    """A new botocore session that reads service models through the shared :func:`data_loader`."""
    core = botocore.session.get_session()
    core.register_component("data_loader", data_loader())
    return core


@functools.cache
def service_model() -> Any:
    """botocore's bundled SageMaker service model (loaded once per process)."""
    return session().get_service_model(SERVICE)


def shape(name: str) -> Any:
    """The botocore shape called ``name`` in the SageMaker model (e.g. ``CreateModelInput``)."""
    return service_model().shape_for(name)


def resolve(shape_or_name: Any) -> Any:
    """A botocore shape, given either the shape or its name."""
    return shape(shape_or_name) if isinstance(shape_or_name, str) else shape_or_name


_LEADING_CAPITALS = re.compile(r"[A-Z]+")


def camel_name(aws_name: str) -> str:
    """The spec (camelCase) name of an AWS (PascalCase) member name.

    The leading run of capitals is lowered, except its last capital when that one starts a word
    (``KMSKeyId`` -> ``kmsKeyId``, ``EnableSSMAccess`` -> ``enableSSMAccess``, ``S3Uri`` -> ``s3Uri``,
    ``ARN`` -> ``arn``).
    """
    match = _LEADING_CAPITALS.match(aws_name)
    if not match:
        return aws_name
    run = match.group()
    rest = aws_name[len(run):]
    if len(run) > 1 and rest[:1].islower():
        # "KMSKey": the K of "Key" starts a word, so only "KMS" is the acronym.
        return run[:-1].lower() + run[-1] + rest
    return run.lower() + rest


def member_names(structure: Any) -> dict[str, str]:
    """camelCase name -> AWS member name for one structure shape (raises if two members collide)."""
    names: dict[str, str] = {}
    for aws_name in structure.members:
        camel = camel_name(aws_name)
        if camel in names:
            raise ValueError(f"{structure.name}: members {names[camel]} and {aws_name} both map to {camel}")
        names[camel] = aws_name
    return names


# --- descriptions -------------------------------------------------------------------------------------------------

_PARAGRAPH_END = re.compile(r"</p>|<ul>|<ol>|<note>|<important>|<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def description(documentation: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Plain text for ``kubectl explain``: HTML stripped, first paragraph, at most about ``limit`` characters.

    Long texts are cut at the last sentence end before the limit when there is one, else at a word boundary.
    """
    text = documentation.strip()
    # The first paragraph: botocore docs are "<p>...</p><p>...</p>"; leading empty paragraphs do not count.
    for chunk in _PARAGRAPH_END.split(text):
        plain = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", chunk))).strip()
        if plain:
            text = plain
            break
    else:
        text = ""
    text = re.sub(r"\s+([.,;:)])", r"\1", text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head + " ")]
    if ends and ends[-1] >= limit // 3:
        return head[:ends[-1]].strip()
    return head.rsplit(" ", 1)[0].rstrip(",;:") + " ..."


# --- patterns -----------------------------------------------------------------------------------------------------

# Constructs that Java (where AWS validates) accepts but Go's RE2 (where the API server validates) refuses.
_RE2_UNSUPPORTED = [
    (re.compile(r"\(\?[=!]"), "lookahead"),
    (re.compile(r"\(\?<[=!]"), "lookbehind"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"\(\?<?[A-Za-z]\w*>"), "Java named group"),  # RE2 wants (?P<name>...)
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "backreference"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\k<"), "named backreference"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[ZGRXhHVvu]"), "Java-only escape"),  # \u0020: RE2 wants \x{20}
    (re.compile(r"&&\["), "Java class intersection"),  # RE2 would compile it, with another meaning
    (re.compile(r"(?<!\\)[*+?]\+"), "possessive quantifier"),
    (re.compile(r"(?<!\\)\{\d+(?:,\d*)?\}\+"), "possessive quantifier"),  # not \p{L}+, whose } closes a class
]
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_RE2_MAX_REPEAT = 1000
# \p{...} names RE2 knows: one- and two-letter Unicode general categories and script names (capitalised words).
# Java's POSIX-like classes (\p{Alpha}, \p{Punct}, \p{javaLowerCase}, \p{IsAlphabetic} ...) are not among them.
_UNICODE_CLASS = re.compile(r"\\[pP]\{\^?([A-Za-z_]+)\}|\\[pP]([A-Za-z])")
_JAVA_ONLY_CLASSES = {
    "Lower", "Upper", "ASCII", "Alpha", "Digit", "Alnum", "Punct", "Graph", "Print", "Blank", "Cntrl", "XDigit",
    "Space", "Lowercase", "Uppercase", "Alphabetic", "Ideographic", "Letter", "Punctuation",
    "IsAlphabetic", "IsLetter", "IsDigit", "IsLowercase", "IsUppercase", "IsWhite_Space", "IsPunctuation",
}
_RE2_CATEGORIES = {
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl", "No",
    "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs", "Any",
}


def re2_problem(pattern: str) -> str | None:
    """Why Go's RE2 would not compile ``pattern`` (a Java regex from the AWS model), or None if it would."""
    for detector, problem in _RE2_UNSUPPORTED:
        if detector.search(pattern):
            return problem
    for match in _REPEAT.finditer(pattern):
        if any(count and int(count) > _RE2_MAX_REPEAT for count in match.groups()):
            return "repeat count above RE2's limit of 1000"
    for match in _UNICODE_CLASS.finditer(pattern):
        name = match.group(1) or match.group(2)
        if name.startswith("java") or name in _JAVA_ONLY_CLASSES:
            return f"Java character class \\p{{{name}}}"
        if len(name) <= 2 and name not in _RE2_CATEGORIES:
            return f"unknown Unicode category \\p{{{name}}}"
        if len(name) > 2 and not name[0].isupper():
            return f"unknown Unicode class \\p{{{name}}}"
    return None


def anchored(pattern: str) -> str:
    """The pattern as a full match.

    AWS validates members against the whole value (Java ``matches()``), while OpenAPI patterns are searches: without
    anchors ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` would accept any value that contains a letter.
    """
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern
    return f"^(?:{pattern})$"


# --- schemas ------------------------------------------------------------------------------------------------------

@dataclass
class SchemaStats:
    """What a schema generation left out, for tests and for the generator's summary."""

    dropped_patterns: dict[str, str] = field(default_factory=dict)  # shape name -> reason
    recursive_shapes: set[str] = field(default_factory=set)


_INTEGER_FORMATS = {"integer": "int32", "long": "int64"}
_NUMBER_FORMATS = {"float": "float", "double": "double"}


def shape_schema(shape_or_name: Any, *, stats: SchemaStats | None = None, with_description: bool = True,
                 _stack: tuple[str, ...] = ()) -> Schema:
    """The OpenAPI v3 (structural) schema of a botocore shape, member names in camelCase.

    Recursive shapes end, at their second occurrence, in an object that preserves unknown fields (a structural
    schema cannot refer to itself).
    """
    stats = stats if stats is not None else SchemaStats()
    current = resolve(shape_or_name)
    meta = current.metadata
    schema: Schema = {}
    if with_description and current.documentation:
        text = description(current.documentation)
        if text:
            schema["description"] = text
    if meta.get("document"):
        # Free-form JSON: any value; Kubernetes keeps it untouched.
        schema["x-kubernetes-preserve-unknown-fields"] = True
        return schema
    kind = current.type_name
    if kind in ("structure", "list", "map") and current.name in _stack:
        stats.recursive_shapes.add(current.name)
        schema.update({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        return schema
    stack = (*_stack, current.name)
    if kind == "structure":
        schema["type"] = "object"
        properties = {camel: shape_schema(current.members[aws], stats=stats, _stack=stack)
                      for camel, aws in member_names(current).items()}
        if properties:
            schema["properties"] = properties
        else:
            # An empty structure (a flag-like "{}" member) must still be writable.
            schema["x-kubernetes-preserve-unknown-fields"] = True
        required = [camel_name(name) for name in current.required_members]
        if required:
            schema["required"] = sorted(required)
    elif kind == "list":
        schema["type"] = "array"
        schema["items"] = shape_schema(current.member, stats=stats, _stack=stack)
        _bounds(schema, meta, "minItems", "maxItems")
    elif kind == "map":
        schema["type"] = "object"
        # Map keys are data (environment variable names...), never renamed; their constraints cannot be expressed
        # in Kubernetes 1.20 (no propertyNames), so only values are checked here.
        schema["additionalProperties"] = shape_schema(current.value, stats=stats, _stack=stack)
        _bounds(schema, meta, "minProperties", "maxProperties")
    elif kind == "string":
        schema["type"] = "string"
        if current.enum:
            schema["enum"] = list(current.enum)
        _bounds(schema, meta, "minLength", "maxLength")
        pattern = meta.get("pattern")
        if pattern and not current.enum:
            problem = re2_problem(pattern)
            if problem:
                stats.dropped_patterns[current.name] = problem
            elif pattern not in (".*", "[\\s\\S]*", "[\\S\\s]*"):  # match-anything patterns only cost bytes
                schema["pattern"] = anchored(pattern)
    elif kind in _INTEGER_FORMATS:
        schema.update({"type": "integer", "format": _INTEGER_FORMATS[kind]})
        _limits(schema, meta)
    elif kind in _NUMBER_FORMATS:
        schema.update({"type": "number", "format": _NUMBER_FORMATS[kind]})
        _limits(schema, meta)
    elif kind == "boolean":
        schema["type"] = "boolean"
    elif kind == "timestamp":
        schema.update({"type": "string", "format": "date-time"})
    elif kind == "blob":
        schema.update({"type": "string", "format": "byte"})
    else:  # pragma: no cover - botocore has no other types today
        raise ValueError(f"shape {current.name}: unsupported type {kind}")
    return schema


def _bounds(schema: Schema, meta: dict[str, Any], low: str, high: str) -> None:
    # A minimum of 0 items/characters is no constraint; leaving it out keeps the CRDs smaller.
    if meta.get("min"):
        schema[low] = int(meta["min"])
    if "max" in meta:
        schema[high] = int(meta["max"])


def _limits(schema: Schema, meta: dict[str, Any]) -> None:
    for key, keyword in (("min", "minimum"), ("max", "maximum")):
        if key in meta:
            value = meta[key]
            schema[keyword] = int(value) if schema["type"] == "integer" or float(value).is_integer() else value


def walk_members(shape_or_name: Any, path: tuple[str, ...] = (), _stack: tuple[str, ...] = ()
                 ) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (AWS member path, member shape) reachable from a shape; list items appear as ``[]``, map values as
    ``{}``. Recursive shapes are entered once."""
    current = resolve(shape_or_name)
    if current.name in _stack:
        return
    stack = (*_stack, current.name)
    if current.type_name == "structure":
        for name, member in current.members.items():
            yield (*path, name), member
            yield from walk_members(member, (*path, name), stack)
    elif current.type_name == "list":
        yield from walk_members(current.member, (*path, "[]"), stack)
    elif current.type_name == "map":
        yield from walk_members(current.value, (*path, "{}"), stack)


def make_shape(name: str, definitions: dict[str, Any]) -> Any:
    """A botocore shape from raw JSON definitions (for tests and for shapes the bundled model lacks)."""
    return botocore.model.ShapeResolver(definitions).get_shape_by_name(name)
