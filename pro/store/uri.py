"""Artifact locations: ``s3://bucket/prefix``, ``file:///abs/path`` and plain local paths."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pro.spec.conventions import join_uri
from pro.store.errors import StoreError

#: what a bucket name may hold (AWS's rules, plus the "_" and capitals of legacy buckets)
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")


@dataclass(frozen=True)
class Location:
    """A parsed URI: an S3 bucket and key prefix, or a local directory."""

    uri: str
    scheme: str  # "s3" or "file"
    bucket: str = ""
    prefix: str = ""  # S3 key prefix without leading/trailing "/" ("" = bucket root)
    path: Path | None = None  # local directory (absolute) for "file"

    def key(self, rel: str) -> str:
        """The S3 key of ``rel`` (a posix path relative to this location)."""
        return f"{self.prefix}/{rel}" if self.prefix else rel


def parse_uri(uri: str) -> Location:
    """Parse ``uri``; raise :class:`StoreError` saying what is wrong with it."""
    if not uri:
        raise StoreError("empty artifact URI: use s3://bucket/prefix, file:///abs/path or a local path")
    if uri.startswith("s3://"):
        rest = uri[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise StoreError(f"{uri}: no bucket name; write s3://BUCKET/prefix")
        if not _BUCKET.fullmatch(bucket):
            raise StoreError(
                f"{uri}: not a bucket name (letters, digits, '.', '-' and '_'); write s3://BUCKET/prefix, "
                "with credentials in the environment, never in the URI"
            )
        return Location(uri=uri, scheme="s3", bucket=bucket, prefix=prefix.strip("/"))
    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StoreError(f"{uri}: a file URI needs an absolute path, e.g. file:///data/artifacts")
        return Location(uri=uri, scheme="file", path=Path(unquote(parts.path)))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise StoreError(f"{uri}: unsupported scheme {scheme!r}; use s3://, file:// or a local path")
    return Location(uri=uri, scheme="file", path=Path(os.path.abspath(os.path.expanduser(uri))))


__all__ = ["Location", "join_uri", "parse_uri"]
