"""Status conditions (Kubernetes API conventions): set one, keep lastTransitionTime when unchanged."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def set_condition(
    conditions: list[Obj],
    type_: str,
    status: bool | None,
    reason: str,
    message: str,
    *,
    now: str,
    generation: int | None,
) -> list[Obj]:
    """``conditions`` with ``type_`` set (``status`` True/False/None=Unknown); order kept."""
    value = "Unknown" if status is None else ("True" if status else "False")
    out: list[Obj] = []
    found = False
    for c in conditions:
        if c.get("type") != type_:
            out.append(c)
            continue
        found = True
        changed = c.get("status") != value
        out.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now if changed else c.get("lastTransitionTime", now),
                "observedGeneration": generation,
            }
        )
    if not found:
        out.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now,
                "observedGeneration": generation,
            }
        )
    return out


def condition(conditions: list[Obj], type_: str) -> Obj | None:
    return next((c for c in conditions if c.get("type") == type_), None)
