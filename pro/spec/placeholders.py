"""Placeholders in data references: values known only when a run starts.

- ``{{scheduledTime:FORMAT}}``: the firing's scheduled time (UTC) in a ``strftime`` format, e.g.
  ``s3://team/prefs/{{scheduledTime:%Y-%m-%d}}/helpfulness.jsonl``.  Filled by the schedule controller for
  each firing and by ``pro run --scheduled-time T`` locally; a run with no scheduled time uses its start.
- ``{{latestComplete}}``: one path segment, the newest child of the prefix before it (by name, so
  date-named drops sort by time) that holds a completion marker (``_SUCCESS`` or ``manifest.json``), e.g.
  ``s3://team/prefs/{{latestComplete}}/*.jsonl``.  Resolved when the run pins its data
  (:mod:`pro.data.objects`), so a half-written drop is never read.

Pure: :func:`check` validates (``pro validate``), :func:`fill_time` substitutes the time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

PATTERN: Final = re.compile(r"\{\{\s*([A-Za-z]+)\s*(?::\s*([^}]*?))?\s*\}\}")
SCHEDULED_TIME: Final = "scheduledTime"
LATEST_COMPLETE: Final = "latestComplete"
NAMES: Final = (SCHEDULED_TIME, LATEST_COMPLETE)
COMPLETION_MARKERS: Final = ("_SUCCESS", "manifest.json")
#: ``strftime`` directives a data path may use (portable, and no locale-dependent names or spaces)
DIRECTIVES: Final = frozenset("YmdHMSjUWGVuwyz%")


class PlaceholderError(ValueError):
    """A placeholder that cannot be used; the message says which and why."""


def check(text: str) -> None:
    """Raise :class:`PlaceholderError` for an unknown placeholder, a bad format, a stray brace, or
    ``{{latestComplete}}`` that is not a whole path segment or appears twice."""
    for match in PATTERN.finditer(text):
        name, fmt = match.group(1), match.group(2)
        if name not in NAMES:
            raise PlaceholderError(f"unknown placeholder {{{{{name}}}}} (known: {', '.join(NAMES)})")
        if name == SCHEDULED_TIME:
            _check_format(fmt)
        elif fmt is not None:
            raise PlaceholderError(f"{{{{{LATEST_COMPLETE}}}}} takes no format, got {fmt!r}")
    rest = PATTERN.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise PlaceholderError(f"unclosed or malformed placeholder in {text!r} (write {{{{name:format}}}})")
    latest = [m for m in PATTERN.finditer(text) if m.group(1) == LATEST_COMPLETE]
    if len(latest) > 1:
        raise PlaceholderError(f"{{{{{LATEST_COMPLETE}}}}} may appear once per reference")
    for m in latest:
        before, after = text[: m.start()], text[m.end() :]
        if not before.endswith("/") or not (after == "" or after.startswith("/")):
            raise PlaceholderError(
                f"{{{{{LATEST_COMPLETE}}}}} must be a whole path segment, as in s3://b/prefs/{{{{{LATEST_COMPLETE}}}}}/"
            )


def _check_format(fmt: str | None) -> None:
    if not fmt:
        raise PlaceholderError(
            f"{{{{{SCHEDULED_TIME}}}}} needs a format, e.g. {{{{{SCHEDULED_TIME}:%Y-%m-%d}}}}"
        )
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in DIRECTIVES:
                bad = fmt[i : i + 2]
                raise PlaceholderError(
                    f"{{{{{SCHEDULED_TIME}:{fmt}}}}}: {bad!r} is not a supported strftime directive "
                    f"(use {' '.join('%' + d for d in sorted(DIRECTIVES - {'%'}))})"
                )
            i += 2
            continue
        if fmt[i] in "/ \\":
            raise PlaceholderError(f"{{{{{SCHEDULED_TIME}:{fmt}}}}}: the format may not contain {fmt[i]!r}")
        i += 1


def has_placeholders(text: str) -> bool:
    return PATTERN.search(text) is not None


def names_in(text: str) -> set[str]:
    return {m.group(1) for m in PATTERN.finditer(text)}


def fill_time(text: str, scheduled: datetime) -> str:
    """``text`` with every ``{{scheduledTime:FORMAT}}`` replaced by ``scheduled`` (UTC) formatted;
    ``{{latestComplete}}`` is left for resolution."""
    when = scheduled.astimezone(UTC) if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)

    def sub(match: re.Match[str]) -> str:
        if match.group(1) != SCHEDULED_TIME:
            return match.group(0)
        return when.strftime(match.group(2) or "")

    return PATTERN.sub(sub, text)


def split_latest(text: str) -> tuple[str, str] | None:
    """``(parent, rest)`` around ``{{latestComplete}}`` (parent ends with "/", rest is "" or starts with
    "/"); None when the reference has no such placeholder."""
    for m in PATTERN.finditer(text):
        if m.group(1) == LATEST_COMPLETE:
            return text[: m.start()], text[m.end() :]
    return None


__all__ = [
    "COMPLETION_MARKERS",
    "LATEST_COMPLETE",
    "NAMES",
    "SCHEDULED_TIME",
    "PlaceholderError",
    "check",
    "fill_time",
    "has_placeholders",
    "names_in",
    "split_latest",
]
