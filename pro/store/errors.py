"""The store's errors (permanent or transient, never holding a credential) and its redacting logger."""

from __future__ import annotations

import errno
import logging
import re
from pathlib import Path
from typing import Any

from pro.errors import UserError

#: the userinfo of a URL: ``scheme://user:secret@`` (everything up to the last "@" before the host's end)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]*@")


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced: ``http://***@host``."""
    return _USERINFO.sub(r"\1***@", text)


class StoreError(UserError):
    """An expected store failure; the message says what to fix and never contains a secret.

    ``transient``: a retry of the same operation may succeed (the endpoint unreachable, a 5xx or a
    throttling answer, a file changing while it was sent, a lost compare-and-swap); False (permanent)
    when nothing changes until someone acts (bad URI, missing bucket, access denied, invalid manifest,
    missing or damaged file)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(redact(message))
        self.transient = transient

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (str(self),), {"transient": self.transient})


class PreconditionFailed(StoreError):
    """A conditional write lost: the object changed (or appeared) since it was read (read it again)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


class TooLarge(StoreError):
    """An object is larger than its reader accepts (it was not read)."""


def too_large(where: str, size: int, limit: int) -> TooLarge:
    return TooLarge(f"{where} is {size} bytes, over the limit of {limit} bytes; not read")


#: errno values of local I/O that a retry can outlive
_TRANSIENT_ERRNO = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR, errno.ESTALE})


def os_transient(err: OSError) -> bool:
    """Whether a local I/O error may pass (a full disk, a flaky mount), as opposed to a wrong path or mode."""
    return err.errno in _TRANSIENT_ERRNO


def make_dirs(path: Path, hint: str = "check the path and permissions", mode: int = 0o777) -> None:
    """``mkdir -p`` (the last directory with ``mode``), failing with a StoreError that names it and ``hint``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=mode, exist_ok=True)
    except OSError as err:
        raise StoreError(
            f"cannot create {path}: {err.strerror}; {hint}", transient=os_transient(err)
        ) from err


class _Redact(logging.Filter):
    """Rewrites a record's message without URL credentials before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def store_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a ``pro.store`` module's) with credentials redacted from its records."""
    log = logging.getLogger(name)
    if not any(isinstance(f, _Redact) for f in log.filters):
        log.addFilter(_Redact())
    return log
