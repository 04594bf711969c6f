"""The typed resource of a custom object body, validated by the models ``pro validate`` uses, and
remembered per generation (a status change does not re-validate a spec); an invalid object's status and its
one Event.

The API server drops what its schema does not know (a misspelt or snake_case field, a null) before the
operator sees the object, so the object alone can look valid, or blame a field the user did set.  When the
object carries what ``kubectl apply`` sent (``kubectl.kubernetes.io/last-applied-configuration``) and that
is still what it holds (the API server's pruning and defaulting of it give the object's spec), the operator
checks what was sent, as ``pro validate`` checks the file, and names the field the user wrote.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable
from typing import Any, TypeVar

from pro.spec import SpecError
from pro.spec.base import SpecModel
from pro.spec.kinds import kind_named
from pro.spec.loader import Document, parse
from pro.spec.openapi import Schema, as_stored, crd_schema
from pro_operator.conditions import set_condition
from pro_operator.context import Context
from pro_operator.events import Event
from pro_operator.kube import Ref
from pro_operator.publish import publish, read_status

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


#: where ``kubectl apply`` keeps what it sent
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: the metadata fields a spec file may carry (the API server owns the others)
SPEC_METADATA = ("name", "namespace", "labels", "annotations")


def parse_body(kind_name: str, body: Obj) -> Any:
    """The typed resource of a custom object body; a :class:`SpecError` names every bad field, as the user
    wrote it when the object holds what ``kubectl apply`` sent (see the module docstring)."""
    kind = kind_named(kind_name)
    meta = body.get("metadata", {})
    source = f"{kind_name}/{meta.get('name')}"
    data = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: v for k, v in meta.items() if k in SPEC_METADATA and v is not None},
        "spec": body.get("spec"),
    }
    sent = applied(kind_name, body)
    try:
        resource = parse(kind.model(), Document(data, {}, source))
    except SpecError:
        if sent is not None:
            parse(kind.model(), Document(sent, {}, source))  # the problems as written, when there are any
        raise
    if sent is not None:
        parse(kind.model(), Document(sent, {}, source))  # what the API server dropped
    return resource


@functools.cache
def _spec_schema(kind_name: str) -> Schema:
    schema: Schema = crd_schema(kind_named(kind_name).model())["properties"]["spec"]
    return schema


def applied(kind_name: str, body: Obj) -> Obj | None:
    """What ``kubectl apply`` sent for this object, when the object still holds it (None: no annotation,
    an unreadable one, or a spec changed since, e.g. by ``kubectl patch``)."""
    meta = body.get("metadata", {})
    raw = (meta.get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        sent = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(sent, dict) or sent.get("kind") != body.get("kind"):
        return None
    spec = sent.get("spec")
    if as_stored(spec, _spec_schema(kind_name)) != body.get("spec"):
        return None
    return sent


def problems(err: SpecError) -> str:
    """Every problem of an invalid spec on one line, each with its field path."""
    return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in err.problems)


def invalid_event(err: SpecError) -> Event:
    """The Warning Event on an object whose spec breaks a rule."""
    return Event("InvalidSpec", f"invalid spec: {problems(err)}", True)


def publish_invalid(
    ctx: Context, body: Obj, ref: Ref, err: SpecError, model: type[S], *, condition: str, now: str,
    **fields: Any,
) -> None:  # fmt: skip
    """Publish the status of an object whose spec breaks a rule (:func:`invalid_status`), with its
    InvalidSpec Event only when the status did not say so already: one Event per problem, however often
    the object is looked at."""
    status = invalid_status(model, body, err, condition=condition, now=now, **fields)
    generation = body["metadata"].get("generation")
    told = any(
        (c.type, c.reason, c.message, c.observed_generation)
        == (condition, "InvalidSpec", problems(err), generation)
        for c in getattr(read_status(model, body), "conditions", [])
    )
    publish(ctx, body, ref, status, events=[] if told else [invalid_event(err)], now=now)


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
