"""Status conditions (Kubernetes API conventions): set one, keep lastTransitionTime when unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from pro.spec.status import Condition, ConditionStatus

#: (type, status True/False/None=Unknown, reason, message)
Update = tuple[str, bool | None, str, str]


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: bool | None,
    reason: str,
    message: str,
    *,
    now: str,
    generation: int | None,
) -> list[Condition]:
    """``conditions`` with ``type_`` set (``status`` True/False/None=Unknown); order kept."""
    value: ConditionStatus = "Unknown" if status is None else ("True" if status else "False")
    out: list[Condition] = []
    found = False
    for c in conditions:
        if c.type != type_:
            out.append(c)
            continue
        found = True
        since = now if c.status != value else (c.last_transition_time or now)
        out.append(_condition(type_, value, reason, message, since=since, generation=generation))
    if not found:
        out.append(_condition(type_, value, reason, message, since=now, generation=generation))
    return out


def set_conditions(
    conditions: Sequence[Condition], updates: Sequence[Update], *, now: str, generation: int | None
) -> list[Condition]:
    """``conditions`` with each ``(type, status, reason, message)`` set in turn."""
    out = list(conditions)
    for type_, value, reason, message in updates:
        out = set_condition(out, type_, value, reason, message, now=now, generation=generation)
    return out


def _condition(
    type_: str, value: ConditionStatus, reason: str, message: str, *, since: str, generation: int | None
) -> Condition:
    return Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
