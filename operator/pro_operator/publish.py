"""What every controller does last: write the object's typed status and record its Events.

A status is built as a model of :mod:`pro.spec.status` (the models the CRDs' status schemas come from),
serialised once, and patched only when it differs from what the object holds, as a merge patch that
also removes the fields that no longer apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from pro.spec.base import SpecModel
from pro_operator.context import Context
from pro_operator.events import Event, involved_object, post
from pro_operator.kube import NotFound, Ref

log = logging.getLogger("pro_operator.publish")

Obj = dict[str, Any]
S = TypeVar("S", bound=SpecModel)


def read_status(model: type[S], body: Obj) -> S | None:
    """The object's status as ``model``; None when it has none yet, or one that does not read as
    ``model`` (then every field is written afresh)."""
    raw = body.get("status")
    if not raw:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        log.warning("unreadable status of %s: %s", body["metadata"].get("name"), err)
        return None


def status_patch(old: Obj, new: Obj) -> Obj | None:
    """The merge patch that turns status ``old`` into ``new`` (fields ``new`` lacks set to null, which
    removes them); None when there is nothing to change."""
    patch = dict(new)
    for key in old:
        if key not in new:
            patch[key] = None
    changed = any(old.get(k) != v for k, v in new.items()) or any(
        old[k] is not None for k in old if k not in new
    )
    return patch if changed else None


def publish(
    ctx: Context, body: Obj, ref: Ref, status: SpecModel, *, events: Sequence[Event], now: str
) -> None:
    """Patch ``status`` when it changed (with the resourceVersion read: a concurrent change is a
    :class:`~pro_operator.kube.Conflict` and the key is reconciled again), then record ``events``."""
    patch = status_patch(body.get("status") or {}, status.to_dict())
    if patch is not None:
        try:
            ctx.seen(ref.plural, ctx.kube.patch_status(ref, patch, body["metadata"].get("resourceVersion")))
        except NotFound:  # deleted while the cache still had it (e.g. between the initial list and the watch)
            ctx.cache.remove(ref.plural, ref.namespace, ref.name)
            return
    if not events:
        return
    if ctx.events is not None:
        ctx.events.record(body, events, now)
    else:
        post(ctx.kube, involved_object(body), events, now)
