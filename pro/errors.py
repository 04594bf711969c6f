"""Errors a user can act on.

Anything raised as a :class:`UserError` is printed by the CLI as one line, without a
traceback, and exits with :attr:`UserError.exit_code`.  Everything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure whose message tells the user what to fix."""

    exit_code: int = 1
