"""The typed resource of a custom object body, validated by the models ``pro validate`` uses, and
remembered per generation (a status change does not re-validate a spec)."""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, TypeVar

from pro.spec import SpecError
from pro.spec.base import SpecModel
from pro.spec.kinds import kind_named
from pro.spec.loader import Document, parse
from pro_operator.conditions import set_condition
from pro_operator.context import Context
from pro_operator.events import Event
from pro_operator.publish import read_status

Obj = dict[str, Any]
S = TypeVar("S", bound=SpecModel)


def memo_key(kind_name: str, body: Obj) -> Hashable:
    """What a parsed spec depends on: the object's identity, generation, labels and annotations."""
    meta = body.get("metadata", {})
    return (
        kind_name,
        meta.get("uid"),
        meta.get("generation"),
        json.dumps([meta.get("labels"), meta.get("annotations")], sort_keys=True),
    )


def parsed(ctx: Context, kind_name: str, body: Obj) -> Any:
    """:func:`parse_body`, remembered per :func:`memo_key` (a spec error is raised again each time)."""
    return ctx.memo.get(memo_key(kind_name, body), lambda: parse_body(kind_name, body))


def parse_body(kind_name: str, body: Obj) -> Any:
    """The typed resource of a custom object body (a :class:`SpecError` names every bad field)."""
    kind = kind_named(kind_name)
    meta = body.get("metadata", {})
    data = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            k: v
            for k, v in meta.items()
            if k in ("name", "namespace", "labels", "annotations") and v is not None
        },
        "spec": body.get("spec"),
    }
    return parse(kind.model(), Document(data, {}, f"{kind_name}/{meta.get('name')}"))


def problems(err: SpecError) -> str:
    """Every problem of an invalid spec on one line, each with its field path."""
    return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in err.problems)


def invalid_event(err: SpecError) -> Event:
    """The Warning Event on an object whose spec breaks a rule."""
    return Event("InvalidSpec", f"invalid spec: {problems(err)}", True)


def invalid_status(
    model: type[S], body: Obj, err: SpecError, *, condition: str, now: str, **fields: Any
) -> S:
    """The status (a ``model``) of an object whose spec breaks a rule: condition ``condition`` (``Valid``
    False, or ``Failed`` True) with reason InvalidSpec naming every field, and ``fields``; what else the
    status held no longer applies."""
    return refused_status(
        model, body, condition=condition, reason="InvalidSpec", why=problems(err), now=now, **fields
    )


def refused_status(
    model: type[S], body: Obj, *, condition: str, reason: str, why: str, now: str, **fields: Any
) -> S:
    """The status (a ``model``) of an object that cannot run as it is: condition ``condition`` (``Valid``
    False, or ``Failed`` True) with ``reason`` and message ``why``, and ``fields``; what else the status
    held no longer applies."""
    old = read_status(model, body)
    generation = body["metadata"].get("generation")
    conditions = set_condition(
        getattr(old, "conditions", []), condition, condition == "Failed", reason, why,
        now=now, generation=generation,
    )  # fmt: skip
    return model.model_validate({"observed_generation": generation, "conditions": conditions, **fields})
