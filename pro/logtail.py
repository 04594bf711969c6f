"""What a failed stage's log says, without torchrun's report around it.

Used by ``pro run`` (the stage's log file) and the operator (the failing pod's termination message,
which holds the end of its log): the reason is the stage's own last word — its ``error: …`` line or the
last line of its traceback — not torchrun's ``ChildFailedError`` banner.
"""

from __future__ import annotations

import re

#: lines torchrun's elastic agent (and torch's C++ logging) prints around a failing worker
_NOISE = re.compile(
    r"^(\s*$|[EWI]\d{4} \d\d:\d\d:\d\d|=+$|-+$|\s*(time|host|rank|exitcode|error_file|traceback)\s*:|"
    r"Root Cause|Failures:|\s*<NO_OTHER_FAILURES>|\[\d+\]:|pro FAILED|.*torch\.distributed\.elastic|"
    r"torch\.distributed|\s+File \"|\s+\^+$|Traceback \(most recent call last\))"
)
#: where torchrun's own traceback starts (everything after it is the launcher's, not the stage's)
_LAUNCHER = re.compile(r"^Traceback \(most recent call last\):$")


def stage_lines(text: str) -> list[str]:
    """The stage's own lines of the latest attempt (after the last ``====`` header), launcher noise
    removed."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("==== ")]
    lines = lines[starts[-1] + 1 :] if starts else lines
    out: list[str] = []
    skipping = False
    for ln in lines:
        if _LAUNCHER.match(ln) and any("torch/distributed/run.py" in x for x in lines):
            # a traceback: keep its last line (the exception), drop the frames
            skipping = True
            continue
        if skipping and (ln.startswith(" ") or not ln.strip()):
            continue
        skipping = False
        if not _NOISE.match(ln) and "ChildFailedError" not in ln:
            out.append(ln.rstrip())
    return out


def failure_reason(text: str) -> str:
    """One line saying why the stage failed (its ``error:`` line, else its last line), or ""."""
    lines = stage_lines(text)
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if errors:
        return errors[-1].removeprefix("error: ")
    return lines[-1] if lines else ""


def tail(text: str, n: int = 20) -> list[str]:
    """The last ``n`` lines of the stage's own output."""
    return stage_lines(text)[-n:]
