"""What a storage backend (local directory, S3) does for the artifact protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pro.store.hashing import OnBytes
from pro.store.uri import Location


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object: its size and a token that changes whenever its content does."""

    size: int
    etag: str


@dataclass(frozen=True)
class Upload:
    rel: str
    source: Path
    size: int


@dataclass(frozen=True)
class Download:
    rel: str
    size: int
    target: Path | None  # None: stream and hash only (verify)


#: called once per finished upload with (item, sha256 of the bytes sent, stored object)
OnUploaded = Callable[[Upload, str, ObjectInfo], None]


class Backend(Protocol):
    """Objects under one location, addressed by posix paths relative to it."""

    location: Location

    def list(self) -> dict[str, ObjectInfo]:
        """Every object under the location (recursively), by relative path."""
        ...

    def read(self, rel: str, *, max_bytes: int | None = None) -> bytes | None:
        """The object's bytes, or None when it does not exist; raises :class:`~pro.store.errors.TooLarge`
        without reading it when it holds more than ``max_bytes``."""
        ...

    def write(self, rel: str, data: bytes) -> None:
        """Store a small object atomically."""
        ...

    def write_if(self, rel: str, data: bytes, *, etag: str | None) -> str:
        """Store a small object only if it is unchanged: its current ETag is ``etag`` (None: it does not
        exist yet).  Returns the new ETag; raises :class:`~pro.store.errors.PreconditionFailed` when
        another writer got there first (compare-and-swap)."""
        ...

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        """The object's bytes and the ETag they were read at, or None when it does not exist."""
        ...

    def upload(self, items: Sequence[Upload], on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        """Send files, hashing what is sent; ``on_done`` after each one, with the stored object (whose
        size tells whether the file changed size since it was listed)."""
        ...

    def download(self, items: Sequence[Download], on_bytes: OnBytes | None) -> dict[str, tuple[str, int]]:
        """Fetch objects (to their target, or nowhere), hashing while streaming: rel -> (sha256, size)."""
        ...

    def delete(self, rels: Sequence[str]) -> None:
        """Remove objects; missing ones are not an error."""
        ...
