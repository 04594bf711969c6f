"""The operator's clock: real UTC time, or a time read from a file (tests inject the clock that way).

``PRO_OPERATOR_CLOCK_FILE``: a file holding an RFC 3339 time; while it exists, that is "now".  Used by
the integration tests of schedules, which cannot wait for real cron times.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from pro.spec.conventions import parse_rfc3339

CLOCK_ENV = "PRO_OPERATOR_CLOCK_FILE"


def now() -> datetime:
    path = os.environ.get(CLOCK_ENV)
    if path:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            text = ""
        found = parse_rfc3339(text)
        if found is not None:
            return found
    return datetime.now(UTC)
