"""Spec models → Kubernetes structural OpenAPI v3 schemas.

One conversion serves the CRDs (issue #7) and ``pro explain``: pydantic's JSON schema with
``$ref`` inlined, ``null`` unions turned into ``nullable``, ``const`` into ``enum``,
numeric exclusive bounds into the OpenAPI v3.0 boolean form, and free-form mappings marked
``x-kubernetes-preserve-unknown-fields``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]
_DROP = {"title", "discriminator"}


def structural_schema(model: type[BaseModel]) -> Schema:
    """The structural schema of ``model`` with YAML (camelCase) field names."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs)


def clean_text(text: str) -> str:
    """Docstring markup → plain text (``x`` → x, single newlines joined)."""
    text = text.replace("``", "")
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text).strip()


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    ref = node["$ref"].rsplit("/", 1)[-1]
    target = dict(defs[ref])
    # the field's own description and default win over the class docstring
    target.update({k: v for k, v in node.items() if k != "$ref"})
    return target


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in node:
        return _convert(_resolve(node, defs), defs)
    out: Schema = {}
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        converted = [_convert(o, defs) for o in options]
        types = {c.get("type") for c in converted}
        if len(converted) == 1:
            out.update(converted[0])
        elif types == {"integer", "string"}:
            # as Kubernetes writes a quantity: each type's own checks apply only to values of that type
            out["x-kubernetes-int-or-string"] = True
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            for c in converted:
                out.update({k: v for k, v in c.items() if k not in ("type", "description")})
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if nullable:
            out["nullable"] = True
    for key, value in node.items():
        if key in _DROP or key == "anyOf":
            continue
        if key == "description":
            out["description"] = clean_text(value)
        elif key == "const":
            out["enum"] = [value]
        elif key == "default":
            if value is not None:
                out["default"] = value
        elif key == "exclusiveMinimum":
            out.update(minimum=value, exclusiveMinimum=True)
        elif key == "exclusiveMaximum":
            out.update(maximum=value, exclusiveMaximum=True)
        elif key == "properties":
            out["properties"] = {k: _convert(v, defs) for k, v in value.items()}
        elif key in ("items", "prefixItems"):
            out["items"] = _convert(value if isinstance(value, dict) else value[0], defs)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _convert(value, defs)
            # False: Kubernetes prunes unknown fields itself (and forbids it beside properties)
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def describe_type(node: Schema) -> str:
    """``<Object>``, ``<[]string>``, ``<map[string]string>`` … as ``kubectl explain`` prints them."""
    kind = node.get("type")
    if kind == "array":
        return "<[]" + describe_type(node.get("items", {}))[1:-1] + ">"
    if kind == "object" and "additionalProperties" in node:
        return "<map[string]" + describe_type(node["additionalProperties"])[1:-1] + ">"
    if kind == "object" or "properties" in node:
        return "<Object>"
    if node.get("x-kubernetes-int-or-string"):
        return "<int-or-string>"
    if kind is None:
        return "<Object>" if node.get("x-kubernetes-preserve-unknown-fields") else "<any>"
    return f"<{kind}>"


def crd_schema(model: type[BaseModel]) -> Schema:
    """The ``openAPIV3Schema`` of a CRD for a resource model.

    The API server owns the root's ``apiVersion``, ``kind`` and ``metadata``: a CRD may not
    default them or constrain metadata beyond name, so they are plain typed fields here.
    """
    schema = structural_schema(model)
    props = schema.setdefault("properties", {})
    for key in ("apiVersion", "kind"):
        if key in props:
            props[key] = {"type": "string", "description": props[key].get("description", key)}
    if "metadata" in props:
        props["metadata"] = {"type": "object"}
    schema["required"] = [
        r for r in schema.get("required", []) if r not in ("apiVersion", "kind", "metadata")
    ]
    return schema


def as_stored(value: Any, schema: Schema) -> Any:
    """``value`` as the API server stores it under the structural ``schema``: unknown fields pruned (unless
    the schema keeps them), a null in a field that is not ``nullable`` dropped, and then defaults filled in
    (Kubernetes 1.20+).  What ``kubectl apply`` sent can thus be compared with what the object holds."""
    if isinstance(value, dict) and schema.get("type") == "object":
        props: dict[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in props:
                if item is None and not props[key].get("nullable"):
                    continue
                out[key] = as_stored(item, props[key])
            elif isinstance(extra, dict):
                out[key] = as_stored(item, extra)
            elif schema.get("x-kubernetes-preserve-unknown-fields"):
                out[key] = item
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = sub["default"]
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [as_stored(item, schema["items"]) for item in value]
    return value
