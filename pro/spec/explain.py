"""``pro explain``: field documentation from the spec models, laid out like ``kubectl explain``."""

from __future__ import annotations

import difflib
import json
import textwrap

from pydantic import BaseModel

from pro.errors import UserError
from pro.spec.conventions import GROUP_VERSION
from pro.spec.openapi import Schema, describe_type, structural_schema


class ExplainError(UserError):
    """A field path that does not exist."""


def _constraints(node: Schema) -> str:
    parts = []
    if "default" in node:
        parts.append(f"default: {json.dumps(node['default'])}")
    if "enum" in node:
        parts.append("one of: " + ", ".join(json.dumps(v) for v in node["enum"]))
    for key, word in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("minItems", "min items"),
        ("minLength", "min length"),
    ):
        if key in node:
            strict = node.get("exclusive" + key[0].upper() + key[1:]) is True
            parts.append(f"{word}{' (exclusive)' if strict else ''}: {node[key]}")
    if "pattern" in node:
        parts.append(f"pattern: {node['pattern']}")
    return f" ({'; '.join(parts)})" if parts else ""


def _child(node: Schema, name: str) -> Schema | None:
    if node.get("type") == "array":
        node = node.get("items", {})
    props: dict[str, Schema] = node.get("properties", {})
    return props.get(name)


def _fields_of(node: Schema) -> tuple[dict[str, Schema], set[str]]:
    if node.get("type") == "array":
        node = node.get("items", {})
    return node.get("properties", {}), set(node.get("required", []))


def explain(model: type[BaseModel], kind: str, path: list[str], *, recursive: bool = False) -> str:
    """The documentation of ``kind``'s field at ``path`` (``[]`` for the kind itself)."""
    node = structural_schema(model)
    walked: list[str] = []
    for part in path:
        child = _child(node, part)
        if child is None:
            fields = sorted(_fields_of(node)[0])
            where = ".".join([kind, *walked])
            close = difflib.get_close_matches(part, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listing = f" (fields: {', '.join(fields)})" if fields else " (it has no fields)"
            raise ExplainError(f'field "{part}" does not exist in {where}{hint}{listing}')
        node, walked = child, [*walked, part]
    lines = [f"KIND:     {kind}", f"VERSION:  {GROUP_VERSION}", ""]
    if walked:
        lines += [f"FIELD:    {walked[-1]} {describe_type(node)}{_constraints(node)}", ""]
    lines += ["DESCRIPTION:"]
    lines += textwrap.wrap(
        node.get("description", "<empty>"), 76, initial_indent="    ", subsequent_indent="    "
    )
    props, required = _fields_of(node)
    if props:
        lines += ["", "FIELDS:"]
        lines += _field_lines(props, required, indent=2, recursive=recursive)
    return "\n".join(lines)


def _field_lines(fields: dict[str, Schema], required: set[str], *, indent: int, recursive: bool) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for name, child in fields.items():
        req = " -required-" if name in required else ""
        lines.append(f"{pad}{name}\t{describe_type(child)}{req}{_constraints(child)}")
        if recursive:
            sub, sub_required = _fields_of(child)
            lines += _field_lines(sub, sub_required, indent=indent + 2, recursive=True)
        else:
            text = child.get("description", "")
            lines += textwrap.wrap(text, 74, initial_indent=pad + "  ", subsequent_indent=pad + "  ")
            lines.append("")
    return lines
