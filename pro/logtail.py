"""What a failed stage's log says, without torchrun's report around it.

Used by ``pro run`` (the stage's log file) and the operator (the failing pod's termination message,
which holds the end of its log): the reason is the stage's own last word — its ``error: …`` line or the
last line of its traceback — not torchrun's ``ChildFailedError`` banner; whether the failure is permanent
is the stage's exit code, which torchrun reports in that banner (its own exit code is 1 whatever the
worker's was), at the very end of the log, where a termination message always reaches.
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


def _latest_attempt(text: str) -> list[str]:
    """The lines after the last ``====`` attempt header (``pro run`` appends every attempt to one log)."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("==== ")]
    return lines[starts[-1] + 1 :] if starts else lines


def stage_lines(text: str) -> list[str]:
    """The stage's own lines of the latest attempt (after the last ``====`` header), launcher noise
    removed."""
    lines = _latest_attempt(text)
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


#: torchrun's report of its first failing worker: ``exitcode  : 65 (pid: …)`` under "Root Cause", and the
#: agent's log line ``failed (exitcode: 65) local_rank: 0``
_ROOT_CAUSE = re.compile(r"^\s*exitcode\s*:\s*(-?\d+)", re.MULTILINE)
_AGENT = re.compile(r"failed \(exitcode: (-?\d+)\)")


def stage_exit_code(text: str, code: int) -> int:
    """The stage's own exit code: the one torchrun reports for its first failing worker of the latest
    attempt, else ``code`` (the process's, when no torchrun report is there)."""
    latest = "\n".join(_latest_attempt(text))
    root = latest.rfind("Root Cause")
    found = _ROOT_CAUSE.search(latest, root) if root >= 0 else None
    found = found or _AGENT.search(latest)
    return int(found.group(1)) if found else code
