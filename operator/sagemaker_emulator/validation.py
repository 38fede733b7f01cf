"""Request (and response) validation driven entirely by botocore's bundled service models.

No shape is written by hand: :func:`validate` walks the operation's input shape recursively and
checks what AWS's front end checks (required members, JSON types, enums, patterns, string and
list lengths, numeric ranges, unknown members). Violations are reported the way AWS words them::

    1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

Member paths use AWS's convention: lower-camel member names, items of a list of structures as
``name.N.member`` (1-based), structure values of a map as ``name.KEY``. A bad item of a list of
scalars, or a bad map key or scalar map value, is reported once at the list or map with all the
member's constraints, as AWS does::

    Value '[a b]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint:
    [Member must have length less than or equal to 128, Member must have length greater than or
    equal to 1, Member must satisfy regular expression pattern: ...]

Model patterns are Java regular expressions; :func:`compile_pattern` translates the constructs
used in the models (``\\p{ASCII}``, ``\\p{Print}``, ``\\z``, supplementary ``\\uXXXXX``).
Unicode-category classes (``\\p{L}`` and friends) are approximated by "any non-control
character", so tag patterns are slightly more permissive than AWS; patterns Python cannot compile
are not checked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from .protocol import AwsError

_JAVA_CLASSES = {
    "ASCII": r"\x00-\x7f",
    "Print": r"\x20-\x7e",
    "Alpha": "a-zA-Z",
    "Alnum": "a-zA-Z0-9",
    "Digit": "0-9",
    "Punct": r"!-/:-@\[-`{-~",
    "Space": r" \t\n\x0b\f\r",
}
# Unicode general categories cannot be expressed in a Python character class; approximate them.
_ANY_VISIBLE = r"\x20-\U0010ffff"


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Translate a Java pattern from a service model into a compiled Python pattern (or None)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "p" and pattern[i + 2 : i + 3] == "{":
                end = pattern.index("}", i)
                name = pattern[i + 3 : end]
                body = _JAVA_CLASSES.get(name, _ANY_VISIBLE)
                out.append(body if in_class else f"[{body}]")
                i = end + 1
                continue
            if nxt == "z":
                out.append(r"\Z")
                i += 2
                continue
            if nxt == "u":
                # Java allows \\u10000 style supplementary code points in these models.
                m = re.match(r"[0-9A-Fa-f]{4,6}", pattern[i + 2 :])
                if m:
                    digits = m.group(0)
                    if len(digits) > 4 and int(digits, 16) > 0xFFFF:
                        out.append(f"\\U{int(digits, 16):08x}")
                        i += 2 + len(digits)
                        continue
                    out.append(f"\\u{digits[:4]}")
                    i += 6
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None


def camel(name: str) -> str:
    """AWS names members in validation messages in lower camel case."""
    return name[:1].lower() + name[1:]


def _fmt(value: Any) -> str:
    """A value as AWS's (Java) validator prints it: ``[a, b]`` for lists, ``{k=v}`` for maps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


_CONTAINERS = ("structure", "list", "map")


def constraints_of(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape, worded and ordered as AWS lists them."""
    meta = shape.metadata
    sized = shape.type_name in ("string", "blob", "list", "map")
    noun = "length" if sized else "value"
    out = []
    if "max" in meta:
        out.append(f"Member must have {noun} less than or equal to {meta['max']}")
    if "min" in meta:
        out.append(f"Member must have {noun} greater than or equal to {meta['min']}")
    if meta.get("pattern"):
        out.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    if meta.get("enum"):
        out.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    return out


class _Walker:
    def __init__(self, check_unknown: bool) -> None:
        self.errors: list[str] = []
        self.check_unknown = check_unknown

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_fmt(value)}'"
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def walk(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        checker: Callable[[Shape, Any, str], None] = getattr(self, f"_{kind}", self._scalar)
        checker(shape, value, path)

    def _type_error(self, shape: Shape, value: Any, path: str) -> None:
        # AWS's deserialiser rejects wrongly typed JSON before validating constraints.
        raise AwsError(
            "SerializationException",
            f"Unexpected value type {type(value).__name__} at '{path or shape.name}' (expected {shape.type_name})",
        )

    def _structure(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self._type_error(shape, value, path)
        assert isinstance(shape, StructureShape)
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self.fail(None, self._child(path, name), "Member must not be null")
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                if self.check_unknown:
                    self.errors.append(f"Unknown member '{self._child(path, name)}' is not part of shape {shape.name}")
                continue
            if item is None:
                continue
            self.walk(member, item, self._child(path, name))

    @staticmethod
    def _child(path: str, name: str) -> str:
        return f"{path}.{camel(name)}" if path else camel(name)

    def _length(self, shape: Shape, value: Any, size: int, path: str) -> None:
        meta = shape.metadata
        if "min" in meta and size < meta["min"]:
            self.fail(value, path, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")

    def _list(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self._type_error(shape, value, path)
        assert isinstance(shape, ListShape)
        self._length(shape, value, len(value), path)
        member = shape.member
        if member.type_name in _CONTAINERS:
            for index, item in enumerate(value, start=1):
                if item is not None:
                    self.walk(member, item, f"{path}.{index}.member")
            return
        # AWS reports a bad item of a list of scalars once, at the list, listing the member's
        # constraints: "Member must satisfy constraint: [Member must have length ...]".
        if any(item is not None and self._scalar_fails(member, item, path) for item in value):
            self.fail(value, path, f"Member must satisfy constraint: [{', '.join(constraints_of(member))}]")

    def _map(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self._type_error(shape, value, path)
        assert isinstance(shape, MapShape)
        self._length(shape, value, len(value), path)
        # Map keys and values are reported at the map, as AWS does ("Map keys must satisfy ...").
        if any(self._scalar_fails(shape.key, key, path) for key in value):
            self.fail(value, path, f"Map keys must satisfy constraint: [{', '.join(constraints_of(shape.key))}]")
        if shape.value.type_name in _CONTAINERS:
            for key, item in value.items():
                if item is not None:
                    self.walk(shape.value, item, f"{path}.{key}")
        elif any(item is not None and self._scalar_fails(shape.value, item, path) for item in value.values()):
            self.fail(value, path, f"Map value must satisfy constraint: [{', '.join(constraints_of(shape.value))}]")

    def _scalar_fails(self, shape: Shape, value: Any, path: str) -> bool:
        """Whether a scalar list item / map key or value violates its shape (type errors raise)."""
        probe = _Walker(self.check_unknown)
        probe.walk(shape, value, path)
        return bool(probe.errors)

    def _string(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self._type_error(shape, value, path)
        meta = shape.metadata
        self._length(shape, value, len(value), path)
        enum = meta.get("enum")
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern:
            compiled = compile_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")

    def _number(self, shape: Shape, value: Any, path: str, kinds: tuple[type, ...]) -> None:
        if isinstance(value, bool) or not isinstance(value, kinds):
            self._type_error(shape, value, path)
        meta = shape.metadata
        if "min" in meta and value < meta["min"]:
            self.fail(value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            self.fail(value, path, f"Member must have value less than or equal to {meta['max']}")

    def _integer(self, shape: Shape, value: Any, path: str) -> None:
        self._number(shape, value, path, (int,))

    _long = _integer

    def _float(self, shape: Shape, value: Any, path: str) -> None:
        self._number(shape, value, path, (int, float))

    _double = _float

    def _boolean(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self._type_error(shape, value, path)

    def _timestamp(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self._type_error(shape, value, path)

    def _blob(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, (str, bytes)):
            self._type_error(shape, value, path)
        self._length(shape, value, len(value), path)

    def _scalar(self, shape: Shape, value: Any, path: str) -> None:
        return None


def validate(shape: Shape | None, params: dict[str, Any], check_unknown: bool = True) -> list[str]:
    """Return AWS-worded constraint violations of ``params`` against ``shape`` (empty if valid).

    Raises :class:`AwsError` ``SerializationException`` for a JSON type mismatch, as AWS does.
    """
    if shape is None:
        return []
    walker = _Walker(check_unknown)
    walker.walk(shape, params, "")
    return walker.errors


def validation_message(errors: list[str]) -> str:
    """Join violations the way AWS does: ``N validation error(s) detected: a; b``."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def validate_input(operation: OperationModel, params: dict[str, Any], code: str = "ValidationException") -> None:
    """Raise ``code`` (``ValidationException`` unless the service names it otherwise) if ``params`` violate the
    operation's input shape."""
    errors = validate(operation.input_shape, params)
    if errors:
        raise AwsError(code, validation_message(errors))


def validate_output(operation: OperationModel, result: dict[str, Any]) -> None:
    """Raise if a response the emulator built does not satisfy the model's output shape.

    Used in tests (``validate_responses=True``) so that a malformed response is an emulator bug
    caught at once, not a confusing client-side parse error later.
    """
    errors = validate(operation.output_shape, result)
    if errors:
        raise AwsError(
            "InternalFailure",
            f"emulator produced an invalid {operation.name} response: " + validation_message(errors),
            status=500,
        )


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's bundled model for a service (loaded once per process)."""
    return botocore.session.get_session().get_service_model(name)
