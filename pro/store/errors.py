"""The one error type of the artifact store."""

from __future__ import annotations

from pathlib import Path

from pro.errors import UserError


class StoreError(UserError):
    """An expected store failure; the message says what to fix and never contains a secret."""


class PreconditionFailed(StoreError):
    """A conditional write lost: the object changed (or appeared) since it was read."""


def make_dirs(path: Path, hint: str = "check the path and permissions") -> None:
    """``mkdir -p``, failing with a StoreError that names the directory and ``hint``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create {path}: {err.strerror}; {hint}") from err
