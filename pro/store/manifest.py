"""The artifact manifest: the commit marker listing every file with its size and sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

MANIFEST_NAME = "manifest.json"
#: where an unfinished upload records the files it has sent (deleted at commit)
JOURNAL_NAME = ".pro-upload.json"
RESERVED_NAMES = frozenset({MANIFEST_NAME, JOURNAL_NAME})
FORMAT = "pro.artifact/v1"
#: the largest manifest a reader accepts (about 100,000 files); ``put`` refuses to write a larger one
MANIFEST_MAX_BYTES = 16 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Producer:
    """The stage that produced an artifact."""

    kind: str
    name: str


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: posix path relative to the artifact root, size and sha256."""

    path: str
    size: int
    sha256: str


def check_rel_path(path: str) -> str:
    """``path`` if it is a safe relative posix path, else ValueError."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or str(p) != path or "\\" in path:
        raise ValueError(f"not a clean relative path: {path!r}")
    return path


def check_tree(paths: list[str]) -> None:
    """ValueError when a path is also another's directory (``a`` and ``a/b``): no file system holds both."""
    names = set(paths)
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in names:
                raise ValueError(f"{parent!r} is a file and a directory ({parent!r} and {path!r})")


def is_sha256(text: str) -> bool:
    return len(text) == 64 and set(text) <= _HEX


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Manifest:
    """What ``manifest.json`` holds; an artifact exists for readers once it is written."""

    files: list[FileEntry]
    producer: Producer
    work_digest: str
    """The producing stage's work digest (its spec folded with its inputs'); "" when put by hand."""
    version: str
    created: str = field(default_factory=utc_now)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "producer": {"kind": self.producer.kind, "name": self.producer.name},
            "workDigest": self.work_digest,
            "version": self.version,
            "created": self.created,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON: equal digests, identical artifacts (and commits)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and validate; ValueError when it is not a valid manifest."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {data.get('format')!r}")
            files = [
                FileEntry(check_rel_path(str(f["path"])), int(f["size"]), str(f["sha256"]))
                for f in data["files"]
            ]
            for f in files:
                if f.size < 0 or not is_sha256(f.sha256) or f.path in RESERVED_NAMES:
                    raise ValueError(f"bad file entry {f}")
            if len({f.path for f in files}) != len(files):
                raise ValueError("duplicate file paths")
            check_tree([f.path for f in files])
            producer = Producer(str(data["producer"]["kind"]), str(data["producer"]["name"]))
            return cls(
                files=files,
                producer=producer,
                # before 0.2 the field was named specDigest (it held the work digest all along)
                work_digest=str(data["workDigest"] if "workDigest" in data else data["specDigest"]),
                version=str(data["version"]),
                created=str(data["created"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"invalid manifest: {err}") from err
