"""The operator's clock: real UTC time, or a time read from a file (tests inject the clock that way).

``PRO_OPERATOR_CLOCK_FILE``: a file holding an RFC 3339 time; while it exists, that is "now".  Used by
the integration tests of schedules, which cannot wait for real cron times.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

CLOCK_ENV = "PRO_OPERATOR_CLOCK_FILE"


def now() -> datetime:
    path = os.environ.get(CLOCK_ENV)
    if path:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            text = ""
        if text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return datetime.now(UTC)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
