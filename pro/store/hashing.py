"""Hash while streaming: file-like wrappers that sha256 the bytes passing through them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
OnBytes = Callable[[int], None]


class HashingReader:
    """Reads a file sequentially, hashing and counting; non-seekable on purpose (s3transfer
    then reads it in order, so the hash is of exactly the bytes sent)."""

    def __init__(self, raw: BinaryIO, on_bytes: OnBytes | None = None) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        self.on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class HashingWriter:
    """Writes sequentially to ``raw``, hashing and counting; non-seekable on purpose."""

    def __init__(self, raw: BinaryIO, on_bytes: OnBytes | None = None) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        self.on_bytes = on_bytes

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return self.raw.write(data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def hash_stream(raw: BinaryIO, on_bytes: OnBytes | None = None) -> tuple[str, int]:
    """(sha256, size) of everything ``raw`` yields."""
    reader = HashingReader(raw, on_bytes)
    while reader.read(CHUNK):
        pass
    return reader.hash.hexdigest(), reader.size


def hash_file(path: Path, on_bytes: OnBytes | None = None) -> tuple[str, int]:
    """(sha256, size) of a file, read into one reused buffer."""
    digest, size = hashlib.sha256(), 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
            size += n
            if on_bytes is not None:
                on_bytes(n)
    return digest.hexdigest(), size


def copy_hashing(src: BinaryIO, dst: BinaryIO, on_bytes: OnBytes | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` in one pass; (sha256, size) of the bytes copied."""
    writer = HashingWriter(dst, on_bytes)
    while chunk := src.read(CHUNK):
        writer.write(chunk)
    return writer.hash.hexdigest(), writer.size
