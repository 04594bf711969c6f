"""The artifact store's public operations: put, get, read_manifest, exists, list, verify, delete."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from pro.store.backend import Backend, Download, ObjectInfo, Upload
from pro.store.cache import ArtifactCache, materialize
from pro.store.config import StoreConfig
from pro.store.errors import StoreError
from pro.store.hashing import hash_file
from pro.store.manifest import JOURNAL_NAME, MANIFEST_NAME, RESERVED_NAMES, FileEntry, Manifest, Producer
from pro.store.progress import progress_bar
from pro.store.uri import join_uri, parse_uri
from pro.version import __version__

log = logging.getLogger("pro.store")

#: the journal is rewritten at most this often while an upload runs (and after the first file)
JOURNAL_INTERVAL_S = 0.5


def open_backend(uri: str, config: StoreConfig) -> Backend:
    loc = parse_uri(uri)
    if loc.scheme == "s3":
        from pro.store.s3 import S3Backend

        return S3Backend(loc, config)
    from pro.store.local import LocalBackend

    return LocalBackend(loc, config)


def _manifest_of(backend: Backend) -> Manifest | None:
    data = backend.read(MANIFEST_NAME)
    if data is None:
        return None
    try:
        return Manifest.from_json(data)
    except ValueError as err:
        log.warning("%s: ignoring invalid %s (%s)", backend.location.uri, MANIFEST_NAME, err)
        return None


def _scan(src: Path) -> list[Upload]:
    """The files of a directory to upload, sorted; the store's own files at its root are skipped."""
    items = []
    for dirpath, dirs, files in os.walk(src, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            path = Path(dirpath, name)
            rel = path.relative_to(src).as_posix()
            if rel in RESERVED_NAMES:
                continue
            items.append(Upload(rel=rel, source=path, size=path.stat().st_size))
    return items


class _Journal:
    """What uploads have stored: ``.pro-upload.json`` next to the files.

    Per file: size, sha256 of the bytes sent, and the stored object's etag.  A later put skips
    a file when the object still has that etag and size and the local file hashes to that
    sha256 — proof without downloading.  An object replaced or damaged since has another etag
    or size, so a put re-sends it (this is how ``put`` repairs an artifact).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.entries: dict[str, dict[str, object]] = {}
        self.lock = threading.Lock()
        self.last_write = 0.0
        data = backend.read(JOURNAL_NAME)
        if data is not None:
            try:
                self.entries = dict(json.loads(data)["files"])
            except (ValueError, KeyError, TypeError):
                self.entries = {}

    def matches(self, rel: str, sha: str, info: ObjectInfo) -> bool:
        e = self.entries.get(rel)
        return (
            e is not None
            and e.get("sha256") == sha
            and e.get("size") == info.size
            and e.get("etag") == info.etag
        )

    def record(self, rel: str, sha: str, info: ObjectInfo, *, flush: bool = True) -> None:
        with self.lock:
            self.entries[rel] = {"size": info.size, "sha256": sha, "etag": info.etag}
            if flush and time.monotonic() - self.last_write >= JOURNAL_INTERVAL_S:
                self._write()

    def keep(self, entries: dict[str, FileEntry]) -> None:
        """Forget every journalled file except ``entries`` (the ones proven still stored)."""
        with self.lock:
            self.entries = {rel: e for rel, e in self.entries.items() if rel in entries}

    def flush(self) -> None:
        with self.lock:
            self._write()

    def _write(self) -> None:
        self.last_write = time.monotonic()
        self.backend.write(JOURNAL_NAME, json.dumps({"files": self.entries}).encode())


def put_artifact(
    src_dir: str | Path,
    uri: str,
    *,
    producer: Producer,
    work_digest: str,
    config: StoreConfig | None = None,
    progress: bool = False,
) -> Manifest:
    """Upload the files of ``src_dir`` to ``uri`` and commit them with ``manifest.json`` (last).

    Idempotent and resumable per file: files already stored with the right size and sha256
    are not sent again; putting identical content onto a committed artifact changes nothing.
    """
    cfg = config or StoreConfig()
    src = Path(src_dir)
    if not src.is_dir():
        raise StoreError(f"{src}: not a directory; `put` stores a directory as an artifact")
    loc = parse_uri(uri)
    if loc.path is not None and (loc.path == src.resolve() or src.resolve() in loc.path.parents):
        raise StoreError(f"{uri}: destination is inside the source directory {src}; choose another")
    items = _scan(src)
    backend = open_backend(uri, cfg)
    remote = backend.list()
    old = _manifest_of(backend)
    journal = _Journal(backend)

    entries: dict[str, FileEntry] = {}
    todo: list[Upload] = []
    for item in items:
        info = remote.get(item.rel)
        if info is not None and info.size == item.size and item.rel in journal.entries:
            sha, size = hash_file(item.source)  # needed for the manifest anyway
            if size == item.size and journal.matches(item.rel, sha, info):
                entries[item.rel] = FileEntry(item.rel, size, sha)
                continue
        todo.append(item)
    journal.keep(entries)

    if old is not None:
        if not todo and {f.path for f in old.files} == set(entries):
            log.info("put %s: already committed with identical files; nothing to do", uri)
            return old
        backend.delete([MANIFEST_NAME])  # un-commit before changing anything

    def uploaded(item: Upload, sha: str, info: ObjectInfo) -> None:
        entries[item.rel] = FileEntry(item.rel, item.size, sha)
        journal.record(item.rel, sha, info)

    total = sum(i.size for i in todo)
    try:
        with progress_bar(f"put {uri}", total, progress) as on_bytes:
            backend.upload(todo, uploaded, on_bytes)
    except BaseException:
        if journal.entries:
            journal.flush()  # what did arrive is skipped by the retry
        raise

    manifest = Manifest(
        files=[entries[i.rel] for i in items], producer=producer, work_digest=work_digest, version=__version__
    )
    journal.flush()  # the record of what is stored, for the next put
    backend.write(MANIFEST_NAME, manifest.to_json().encode())
    log.info(
        "put %s: %d files uploaded (%d bytes), %d skipped (already present)",
        uri,
        len(todo),
        total,
        len(items) - len(todo),
    )
    return manifest


def read_manifest(uri: str, *, config: StoreConfig | None = None) -> Manifest | None:
    """The artifact's manifest, or None when there is no valid one (no artifact)."""
    return _manifest_of(open_backend(uri, config or StoreConfig()))


def artifact_exists(uri: str, *, config: StoreConfig | None = None) -> bool:
    return read_manifest(uri, config=config) is not None


def _require_manifest(backend: Backend) -> Manifest:
    manifest = _manifest_of(backend)
    if manifest is None:
        raise StoreError(
            f"no artifact at {backend.location.uri}: no valid {MANIFEST_NAME} "
            "(wrong URI, or its upload has not finished; `pro store ls` lists artifacts)"
        )
    return manifest


def _listing_problems(manifest: Manifest, remote: dict[str, ObjectInfo]) -> list[str]:
    problems = []
    for f in manifest.files:
        info = remote.get(f.path)
        if info is None:
            problems.append(f"{f.path}: missing")
        elif info.size != f.size:
            problems.append(f"{f.path}: size {info.size}, manifest says {f.size} (truncated or replaced)")
    return problems


def _hash_problems(manifest: Manifest, got: dict[str, tuple[str, int]]) -> list[str]:
    problems = []
    for f in manifest.files:
        if f.path not in got:
            continue
        sha, size = got[f.path]
        if size != f.size:
            problems.append(f"{f.path}: read {size} bytes, manifest says {f.size}")
        elif sha != f.sha256:
            problems.append(f"{f.path}: sha256 {sha[:12]}…, manifest says {f.sha256[:12]}… (corrupted)")
    return problems


def _fail(uri: str, problems: list[str]) -> StoreError:
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return StoreError(
        f"artifact {uri} is damaged: {'; '.join(problems[:3])}{more}; re-upload it with `pro store put`"
    )


def get_artifact(
    uri: str, dst_dir: str | Path | None = None, *, config: StoreConfig | None = None, progress: bool = False
) -> Path:
    """Download and verify every file of the artifact; returns the local directory.

    Files land in the cache (keyed by manifest digest, so a second get is free); with
    ``dst_dir`` they are then hard-linked (or copied) there.
    """
    cfg = config or StoreConfig()
    backend = open_backend(uri, cfg)
    manifest = _require_manifest(backend)

    def fill(tmp: Path) -> None:
        problems = _listing_problems(manifest, backend.list())
        if problems:
            raise _fail(uri, problems)
        items = [Download(f.path, f.size, tmp.joinpath(*f.path.split("/"))) for f in manifest.files]
        with progress_bar(f"get {uri}", manifest.total_size, progress) as on_bytes:
            got = backend.download(items, on_bytes)
        problems = _hash_problems(manifest, got)
        if problems:
            raise _fail(uri, problems)

    entry = ArtifactCache(cfg.resolved_cache_dir()).fetch(manifest, fill)
    if dst_dir is None:
        return entry
    dst = Path(dst_dir)
    materialize(entry, manifest, dst)
    return dst


def local_artifact(uri: str, marker: str, *, config: StoreConfig | None = None) -> Path:
    """A local directory for ``uri``: the path itself when it is a directory holding ``marker`` (an
    artifact used in place, e.g. a model saved by hand), else the store's verified copy."""
    path = Path(uri)
    if (path / marker).is_file():
        return path
    try:
        return get_artifact(uri, config=config)
    except StoreError as err:
        raise StoreError(f"{uri}: cannot load artifact: {err}") from None


def verify_artifact(uri: str, *, config: StoreConfig | None = None) -> list[str]:
    """Re-read every file and check it against the manifest; the problems found (empty: OK)."""
    cfg = config or StoreConfig()
    backend = open_backend(uri, cfg)
    manifest = _manifest_of(backend)
    if manifest is None:
        return [f"{MANIFEST_NAME}: missing or invalid (no artifact at {uri})"]
    remote = backend.list()
    problems = _listing_problems(manifest, remote)
    bad = {p.split(":", 1)[0] for p in problems}
    items = [Download(f.path, f.size, None) for f in manifest.files if f.path not in bad]
    return problems + _hash_problems(manifest, backend.download(items, None))


def list_artifacts(uri_prefix: str, *, config: StoreConfig | None = None) -> list[tuple[str, Manifest]]:
    """Committed artifacts at or under ``uri_prefix``: (uri, manifest), sorted by URI."""
    cfg = config or StoreConfig()
    backend = open_backend(uri_prefix, cfg)
    out = []
    for rel in sorted(backend.list()):
        if rel == MANIFEST_NAME or rel.endswith("/" + MANIFEST_NAME):
            sub = rel[: -len(MANIFEST_NAME)].rstrip("/")
            uri = join_uri(uri_prefix, sub) if sub else uri_prefix
            manifest = _manifest_of(open_backend(uri, cfg))
            if manifest is not None:
                out.append((uri, manifest))
    return out


def delete_artifact(uri: str, *, config: StoreConfig | None = None) -> None:
    """Delete the manifest first (readers never see a half-deleted artifact), then the files."""
    backend = open_backend(uri, config or StoreConfig())
    manifest = _manifest_of(backend)
    journal = _Journal(backend)
    if manifest is None and not journal.entries:
        raise StoreError(f"no artifact at {uri}: nothing to delete")
    backend.delete([MANIFEST_NAME])
    files = {f.path for f in manifest.files} if manifest else set()
    backend.delete(sorted(files | set(journal.entries)))
    backend.delete([JOURNAL_NAME])
