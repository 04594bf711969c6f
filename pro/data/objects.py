"""Data references resolved and read: local paths, ``file://`` and ``s3://`` objects, prefixes and globs.

- :func:`pin` resolves a reference (see :mod:`pro.spec.data`) into :class:`~pro.spec.data.PinnedData`:
  the exact objects, with size and ETag (S3) or sha256 (files); ``{{latestComplete}}`` picks the newest
  child prefix holding a completion marker.
- :func:`open_object` streams one pinned object and fails with :class:`DataChanged`, naming it, if its
  bytes are no longer the pinned ones (S3 ``If-Match``; files hashed as read, checked at the end), so a
  stage never reads a silent mix of old and new rows.
- :func:`iter_records` yields ``(where, row)`` from the objects of a reference, streaming: JSONL line by
  line, Parquet batch by batch; ``where`` is ``uri:line`` or ``uri: row N`` for error messages.

Which pins a read uses: the stage's snapshot, activated by :func:`pinned` (the stage runtime does it);
a reference not in it is pinned when read (a hand-written stage, ``pro weights``).  S3 settings come from
boto3's standard chain (the stage environment sets endpoint and region).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from pro.data.errors import DataError
from pro.spec.data import (
    DATA_SUFFIXES,
    MAX_PINNED_OBJECTS,
    DataObject,
    DataSnapshot,
    PinnedData,
    is_glob,
)
from pro.spec.placeholders import COMPLETION_MARKERS, names_in, split_latest

CHUNK = 1024 * 1024
_ACTIVE: contextvars.ContextVar[DataSnapshot | None] = contextvars.ContextVar(
    "pro_data_snapshot", default=None
)


class DataChanged(DataError):
    """A pinned object whose bytes changed after the run pinned it."""


@contextlib.contextmanager
def pinned(snapshot: Mapping[str, PinnedData] | None) -> Iterator[None]:
    """Within this block, reads of a reference in ``snapshot`` read exactly its pinned objects."""
    token = _ACTIVE.set(dict(snapshot) if snapshot else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


# ----------------------------------------------------------------------------- locations


@dataclass(frozen=True)
class _Where:
    """A reference split into where to look and what to keep."""

    scheme: str  # "s3" or "file"
    bucket: str  # S3 only
    base: str  # S3: key prefix ("" or ending in "/"); file: an absolute directory or file path
    pattern: str | None  # glob relative to base (segments separated by "/"), None for no glob
    exact: bool  # the reference names one object


def _split(ref: str) -> _Where:
    if ref.startswith("s3://"):
        bucket, _, key = ref[len("s3://") :].partition("/")
        return _split_key("s3", bucket, key)
    if ref.startswith("file://"):
        path = unquote(ref[len("file://") :])
    else:
        path = os.path.abspath(os.path.expanduser(ref))
        if ref.endswith("/"):
            path += "/"
    return _split_key("file", "", path)


def _split_key(scheme: str, bucket: str, key: str) -> _Where:
    if is_glob(key):
        parts = key.split("/")
        first = next(i for i, part in enumerate(parts) if is_glob(part))
        base = "/".join(parts[:first]) + ("/" if first else "")
        return _Where(scheme, bucket, base, "/".join(parts[first:]), exact=False)
    if key.endswith("/") or not key:
        return _Where(scheme, bucket, key, None, exact=False)
    return _Where(scheme, bucket, key, None, exact=True)


def _uri(w: _Where, rel: str) -> str:
    if w.scheme == "s3":
        return f"s3://{w.bucket}/{rel}"
    return Path(rel).as_uri()


def _matches(pattern: str, rel: str) -> bool:
    """Glob match segment by segment: ``*`` never crosses "/" (as in a shell)."""
    pat, parts = pattern.split("/"), rel.split("/")
    return len(pat) == len(parts) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pat, strict=True))


def _is_data(name: str) -> bool:
    return name.lower().endswith(DATA_SUFFIXES)


# ----------------------------------------------------------------------------- S3


def _client() -> Any:
    from pro.store import StoreConfig
    from pro.store.s3 import make_client

    return make_client(StoreConfig())


@contextlib.contextmanager
def _s3(uri: str, what: str) -> Iterator[Any]:
    from pro.store.s3 import s3_errors

    client = _client()
    with s3_errors(uri, str(client.meta.endpoint_url), what):
        yield client


def _s3_list(w: _Where, ref: str) -> list[DataObject]:
    out = []
    with _s3(ref, "list") as client:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=w.bucket, Prefix=w.base):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                rel = key[len(w.base) :]
                if not rel or key.endswith("/"):
                    continue
                if w.pattern is not None and not _matches(w.pattern, rel):
                    continue
                if w.pattern is None and not _is_data(key):
                    continue
                out.append(DataObject(uri=f"s3://{w.bucket}/{key}", size=int(obj["Size"]), etag=_etag(obj)))
    return out


def _s3_head(w: _Where, ref: str) -> list[DataObject]:
    import botocore.exceptions as bce

    with _s3(ref, "read") as client:
        try:
            head = client.head_object(Bucket=w.bucket, Key=w.base)
        except bce.ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return []
            raise
    return [DataObject(uri=ref, size=int(head["ContentLength"]), etag=_etag(head))]


def _etag(obj: Mapping[str, Any]) -> str:
    return str(obj.get("ETag", "")).strip('"')


def _s3_children(bucket: str, prefix: str, ref: str) -> list[str]:
    """The child "directory" names under ``prefix`` that hold a completion marker."""
    names: list[str] = []
    with _s3(ref, "list") as client:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        ):
            names += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        complete = []
        for name in names:
            for marker in COMPLETION_MARKERS:
                found = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{name}/{marker}", MaxKeys=1)
                if any(o["Key"] == f"{prefix}{name}/{marker}" for o in found.get("Contents", [])):
                    complete.append(name)
                    break
    return complete


# ----------------------------------------------------------------------------- files


def _file_list(w: _Where, *, content: bool = True) -> list[DataObject]:
    """The objects a file reference selects; a directory named without a trailing "/" is a prefix.
    ``content``: hash each file (a pin); else only list them (a check)."""
    root = Path(w.base)
    if w.exact and not root.is_dir():
        return [_file_object(root, content=content)] if root.is_file() else []
    if not root.is_dir():
        return []
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            keep = _matches(w.pattern, rel) if w.pattern is not None else _is_data(name)
            if keep and not name.startswith("."):
                out.append(_file_object(path, content=content))
    return out


def _file_object(path: Path, *, content: bool = True) -> DataObject:
    if not content:
        return DataObject(uri=path.resolve().as_uri(), size=path.stat().st_size)
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return DataObject(uri=path.resolve().as_uri(), size=size, sha256=h.hexdigest())


def _file_children(prefix: str) -> list[str]:
    root = Path(prefix)
    if not root.is_dir():
        return []
    return [
        d.name
        for d in root.iterdir()
        if d.is_dir() and any((d / marker).is_file() for marker in COMPLETION_MARKERS)
    ]


# ----------------------------------------------------------------------------- pinning


def pin(ref: str, *, content: bool = True) -> PinnedData:
    """Resolve ``ref`` (time placeholders already filled) into the objects a stage will read
    (``content=False``: list them without hashing local files, a check)."""
    unfilled = names_in(ref) - {"latestComplete"}
    if unfilled:
        raise DataError(
            f"{ref}: placeholder(s) {', '.join(sorted(unfilled))} not filled (no scheduled time?)"
        )
    selected = None
    around = split_latest(ref)
    if around is not None:
        parent, rest = around
        drop = _latest_complete(parent)
        selected = parent + drop + "/"
        ref = parent + drop + rest
    w = _split(ref)
    name = _display(ref)
    one = w.exact and not (w.scheme == "file" and Path(w.base).is_dir())  # a directory is a prefix
    if one and not _is_data(w.base):
        raise DataError(f"{name}: unknown data file type (expected {', '.join(DATA_SUFFIXES)})")
    objects = (
        _file_list(w, content=content)
        if w.scheme == "file"
        else _s3_head(w, ref)
        if w.exact
        else _s3_list(w, ref)
    )
    if not objects:
        missing = "no such file" if w.scheme == "file" else "no such object"
        raise DataError(f"{name}: {missing}" if one else f"{name}: matches no .jsonl/.parquet object")
    if len(objects) > MAX_PINNED_OBJECTS:
        raise DataError(
            f"{ref}: matches {len(objects)} objects, more than {MAX_PINNED_OBJECTS}; name fewer with a glob"
        )
    return PinnedData(objects=sorted(objects, key=lambda o: o.uri), selected=selected)


def _latest_complete(parent: str) -> str:
    """The newest (by name) child of ``parent`` that holds a completion marker."""
    if parent.startswith("s3://"):
        bucket, _, prefix = parent[len("s3://") :].partition("/")
        names = _s3_children(bucket, prefix, parent)
    else:
        path = unquote(parent[len("file://") :]) if parent.startswith("file://") else os.path.abspath(parent)
        names = _file_children(path)
    if not names:
        markers = " or ".join(COMPLETION_MARKERS)
        raise DataError(
            f"{parent}{{{{latestComplete}}}}: no child of {parent} holds {markers} (no complete drop)"
        )
    return max(names)


def check_refs(refs: Iterable[tuple[str, str]], *, offline: bool = False) -> list[tuple[str, str]]:
    """``(field, problem)`` for every reference that resolves to nothing or cannot be read now; references
    with a ``{{scheduledTime}}`` placeholder are checked only when they run, and ``offline`` skips S3."""
    from pro.store.errors import StoreError

    problems = []
    for field, ref in refs:
        if "scheduledTime" in names_in(ref) or (offline and ref.startswith("s3://")):
            continue
        try:
            pin(ref, content=False)
        except (DataError, StoreError) as err:
            problems.append((field, str(err)))
    return problems


def pin_all(refs: Iterable[str]) -> DataSnapshot:
    """Every distinct reference pinned (each listed once)."""
    out: DataSnapshot = {}
    for ref in refs:
        if ref not in out:
            out[ref] = pin(ref)
    return out


def pinned_for(ref: str) -> PinnedData:
    """The pins of ``ref``: the active snapshot's, else resolved now."""
    active = _ACTIVE.get()
    if active is not None and ref in active:
        return active[ref]
    return pin(ref)


# ----------------------------------------------------------------------------- reading


@contextlib.contextmanager
def open_object(obj: DataObject) -> Iterator[IO[bytes]]:
    """A binary stream of exactly the pinned bytes of ``obj``; :class:`DataChanged` names it otherwise."""
    if obj.uri.startswith("s3://"):
        with _open_s3(obj) as stream:
            yield stream
        return
    path = Path(unquote(obj.uri[len("file://") :]))
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise DataChanged(f"{obj.uri}: deleted after the run pinned it") from None
    with raw:
        reader = _Verifying(raw, obj)
        yield io.BufferedReader(reader, CHUNK)
        reader.finish()


@contextlib.contextmanager
def _open_s3(obj: DataObject) -> Iterator[IO[bytes]]:
    import botocore.exceptions as bce

    bucket, _, key = obj.uri[len("s3://") :].partition("/")
    with _s3(obj.uri, "read") as client:
        try:
            kwargs = {"IfMatch": f'"{obj.etag}"'} if obj.etag else {}
            body = client.get_object(Bucket=bucket, Key=key, **kwargs)["Body"]
        except bce.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code"))
            if code in ("PreconditionFailed", "412"):
                raise DataChanged(
                    f"{obj.uri}: rewritten after the run pinned it (ETag was {obj.etag})"
                ) from None
            if code in ("NoSuchKey", "404"):
                raise DataChanged(f"{obj.uri}: deleted after the run pinned it") from None
            raise
    with contextlib.closing(body):
        reader = _Verifying(body, obj)
        yield io.BufferedReader(reader, CHUNK)
        reader.finish()


class _Verifying(io.RawIOBase):
    """Reads through, counting (and hashing when a sha256 is pinned); :meth:`finish` checks them."""

    def __init__(self, raw: Any, obj: DataObject) -> None:
        super().__init__()
        self.raw, self.obj = raw, obj
        self.hash = hashlib.sha256() if obj.sha256 else None
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data: bytes = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.size += len(data)
        if self.hash is not None:
            self.hash.update(data)
        return len(data)

    def finish(self) -> None:
        scratch = bytearray(CHUNK)
        while self.readinto(scratch):  # a reader that stopped early (maxRows) still checks the whole object
            pass
        changed = self.size != self.obj.size or (
            self.hash is not None and self.hash.hexdigest() != self.obj.sha256
        )
        if changed:
            raise DataChanged(f"{self.obj.uri}: changed after the run pinned it ({self.obj.size} bytes then)")


def iter_records(ref: str) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` of every row of every object ``ref`` is pinned to, in order, streaming."""
    for obj in pinned_for(ref).objects:
        name = obj.uri.rsplit("/", 1)[-1].lower()
        if not _is_data(name):
            raise DataError(
                f"{_display(obj.uri)}: unknown data file type (expected {', '.join(DATA_SUFFIXES)})"
            )
        if name.endswith((".parquet", ".pq")):
            yield from _parquet_rows(obj)
        else:
            yield from _jsonl_rows(obj)


#: the longest JSON line read (a row is a prompt and two responses; a longer one is not a row)
MAX_ROW_BYTES = 16 * 1024 * 1024


def _jsonl_rows(obj: DataObject) -> Iterator[tuple[str, Any]]:
    with open_object(obj) as stream:
        number = 0
        while raw := stream.readline(MAX_ROW_BYTES + 1):
            number += 1
            where = f"{_display(obj.uri)}:{number}"
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                raise DataError(
                    f"{where}: a line longer than {MAX_ROW_BYTES} bytes (is this a JSON lines file?)"
                )
            if not raw.strip():
                continue
            yield where, json_row(raw, where)


def _no_duplicates(where: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise DataError(
                    f"{where}: duplicate key {key!r} (JSON keeps only the last; which one is meant?)"
                )
            out[key] = value
        return out

    return pairs


def json_row(raw: bytes, where: str) -> Any:
    """One JSON value of a row; every problem is a :class:`DataError` naming ``where`` (``file:line``):
    not UTF-8, not JSON, nested too deeply, an integer too long to read, a key given twice."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{where}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
        ) from None
    try:
        return json.loads(line, object_pairs_hook=_no_duplicates(where))
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: invalid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise DataError(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError as err:  # an integer beyond sys.get_int_max_str_digits()
        raise DataError(f"{where}: invalid JSON: {str(err).split(';')[0]}") from None


def _parquet_rows(obj: DataObject) -> Iterator[tuple[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="pro-data-") as tmp:
        local = Path(tmp) / "object.parquet"
        with open_object(obj) as stream, local.open("wb") as out:  # verified before a row is read
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        try:
            parquet = pq.ParquetFile(local)
            number = 0
            for batch in parquet.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    number += 1
                    yield f"{_display(obj.uri)}: row {number}", row
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"{_display(obj.uri)}: not a readable Parquet file: {err}") from None


def _display(uri: str) -> str:
    """How a file is named in messages: its path for local files (as users wrote them), else the URI."""
    return unquote(uri[len("file://") :]) if uri.startswith("file://") else uri


__all__ = [
    "DataChanged",
    "check_refs",
    "iter_records",
    "json_row",
    "open_object",
    "pin",
    "pin_all",
    "pinned",
    "pinned_for",
]
