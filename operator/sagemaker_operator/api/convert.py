"""Spec (camelCase, as in the manifest) <-> AWS request (PascalCase), guided by the botocore shape.

Only structure member names are renamed: map keys (container ``environment`` variables, ...) and free-form
documents are data and pass through untouched, which a blind recursive key renaming would get wrong.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from typing import Any

from sagemaker_operator.api.shapes import camel_name, member_names, resolve


class SpecError(ValueError):
    """A spec value the AWS shape cannot take; ``path`` names it as in the manifest (``spec.productionVariants[1]``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _relative(ignore: Collection[str], name: str) -> set[str]:
    """The ignore paths below member ``name`` (``productionVariants[].modelRef`` -> ``[].modelRef``)."""
    below = set()
    for entry in ignore:
        if entry.startswith(name) and entry[len(name):len(name) + 1] in (".", "["):
            below.add(entry[len(name):].removeprefix("."))
    return below


def _items(ignore: Collection[str]) -> set[str]:
    return {entry[2:].removeprefix(".") for entry in ignore if entry.startswith("[]")}


def to_aws(shape_or_name: Any, fragment: Any, *, ignore: Collection[str] = (), path: str = "spec") -> Any:
    """The AWS request value for a spec fragment of the given shape (``CreateModelInput``, ``ProductionVariant``...).

    ``ignore`` lists operator-only members to drop, as camelCase paths relative to the fragment, ``[]`` standing for
    list items (``{"region", "productionVariants[].modelRef"}``). ``None`` values mean "unset" and are dropped.
    A member the shape does not know raises :class:`SpecError` naming its spec path. Blobs (base64 in the spec) are
    decoded to bytes, since botocore encodes them again.
    """
    current = resolve(shape_or_name)
    if current.metadata.get("document"):
        return fragment
    kind = current.type_name
    if kind == "structure":
        if not isinstance(fragment, Mapping):
            raise SpecError(path, f"expected an object ({current.name}), got {type(fragment).__name__}")
        names = member_names(current)
        request: dict[str, Any] = {}
        for key, value in fragment.items():
            if key in ignore or value is None:
                continue
            aws_name = names.get(key)
            if aws_name is None:
                known = ", ".join(sorted(names)) or "none"
                raise SpecError(_child(path, key), f"{current.name} has no member {key!r} (known: {known})")
            request[aws_name] = to_aws(current.members[aws_name], value, ignore=_relative(ignore, key),
                                       path=_child(path, key))
        return request
    if kind == "list":
        if not isinstance(fragment, list | tuple):
            raise SpecError(path, f"expected a list ({current.name}), got {type(fragment).__name__}")
        below = _items(ignore)
        return [to_aws(current.member, item, ignore=below, path=f"{path}[{index}]")
                for index, item in enumerate(fragment)]
    if kind == "map":
        if not isinstance(fragment, Mapping):
            raise SpecError(path, f"expected a map ({current.name}), got {type(fragment).__name__}")
        return {key: to_aws(current.value, value, path=f"{path}[{key!r}]") for key, value in fragment.items()}
    if kind == "blob" and isinstance(fragment, str):
        try:
            return base64.b64decode(fragment, validate=True)
        except ValueError as error:
            raise SpecError(path, f"expected base64 data: {error}") from None
    return fragment


def from_aws(shape_or_name: Any, value: Any, *, strict: bool = False) -> Any:
    """The spec (camelCase) form of an AWS value of the given shape: the inverse of :func:`to_aws`.

    For status and plan output from describe responses, members that the local model does not know (a newer API)
    are kept with a camelCase name unless ``strict``; then they raise :class:`KeyError`.
    """
    current = resolve(shape_or_name)
    if current.metadata.get("document") or value is None:
        return value
    kind = current.type_name
    if kind == "structure" and isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for aws_name, member_value in value.items():
            if aws_name in current.members:
                result[camel_name(aws_name)] = from_aws(current.members[aws_name], member_value, strict=strict)
            elif strict:
                raise KeyError(f"{current.name} has no member {aws_name!r}")
            else:
                result[camel_name(aws_name)] = member_value
        return result
    if kind == "list" and isinstance(value, list | tuple):
        return [from_aws(current.member, item, strict=strict) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        return {key: from_aws(current.value, item, strict=strict) for key, item in value.items()}
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if kind == "timestamp" and hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def tags_to_aws(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The spec's ``tags`` map as an AWS ``TagList`` (sorted by key, so requests are stable)."""
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def tags_from_aws(tag_list: Collection[Mapping[str, str]]) -> dict[str, str]:
    """An AWS ``TagList`` as the spec's ``tags`` map."""
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list}
