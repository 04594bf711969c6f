"""Errors a user can act on, and how a failure says whether retrying can help.

Anything raised as a :class:`UserError` is printed by the CLI as one line, without a
traceback, and exits with :attr:`UserError.exit_code`.  Everything else is a bug and
keeps its traceback.

A stage process that fails for good — a spec, a missing file, a malformed row, a store that refuses
the request (a 4xx other than throttling) — exits with :data:`PERMANENT_EXIT`; both runners read it
(the process's exit code, or the one torchrun reports for its worker) and fail the stage at once
instead of retrying work that would fail the same way.  Anything else (a crash, a network error, a
throttled or unavailable store, a killed process) is retried.  A user error is permanent unless it
says otherwise with a ``transient`` attribute (a store error is transient unless it says otherwise):
:func:`pro.runs.transient` decides.
"""

from __future__ import annotations

#: a stage's exit code when retrying the same work cannot succeed (``EX_DATAERR`` of sysexits.h)
PERMANENT_EXIT = 65


class UserError(Exception):
    """An expected failure whose message tells the user what to fix."""

    exit_code: int = 1
