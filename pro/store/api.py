"""The artifact store's public operations: put, get, read_manifest, exists, list, verify, delete."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from pro.store.backend import Backend, Download, ObjectInfo, Upload
from pro.store.cache import ArtifactCache
from pro.store.config import StoreConfig
from pro.store.errors import StoreError, TooLarge, os_transient, store_logger
from pro.store.hashing import hash_file
from pro.store.manifest import (
    JOURNAL_NAME,
    MANIFEST_MAX_BYTES,
    MANIFEST_NAME,
    RESERVED_NAMES,
    FileEntry,
    Manifest,
    Producer,
    check_rel_path,
    is_sha256,
)
from pro.store.progress import progress_bar
from pro.store.uri import join_uri, parse_uri
from pro.version import __version__

log = store_logger("pro.store")

#: the journal is rewritten at most this often while an upload runs (and after the first file)
JOURNAL_INTERVAL_S = 0.5


def open_backend(uri: str, config: StoreConfig) -> Backend:
    loc = parse_uri(uri)
    if loc.scheme == "s3":
        from pro.store.s3 import S3Backend

        return S3Backend(loc, config)
    from pro.store.local import LocalBackend

    return LocalBackend(loc, config)


def _load(backend: Backend, max_bytes: int | None = None) -> Manifest | None:
    """The manifest; None when there is none, ValueError when it is invalid, :class:`TooLarge` (unread)
    when it holds more than ``max_bytes`` (default :data:`MANIFEST_MAX_BYTES`)."""
    data = backend.read(MANIFEST_NAME, max_bytes=MANIFEST_MAX_BYTES if max_bytes is None else max_bytes)
    return None if data is None else Manifest.from_json(data)


def _manifest_of(backend: Backend) -> Manifest | None:
    """The manifest, or None when there is none or it is invalid (logged): no artifact."""
    try:
        return _load(backend)
    except (ValueError, TooLarge) as err:
        log.warning("%s: ignoring invalid %s (%s)", backend.location.uri, MANIFEST_NAME, err)
        return None


def _scan(src: Path) -> list[Upload]:
    """The files of a directory to upload: each directory's files (sorted), then its subdirectories;
    the store's own files at the root are skipped.  A symlink stands for the file or directory it points
    to when that lies inside ``src``; one pointing outside, a broken one, a loop or anything but a
    regular file is refused, naming it."""
    root = src.resolve()
    items: list[Upload] = []

    def refuse(rel: str, why: str) -> StoreError:
        return StoreError(f"{src}/{rel}: {why}")

    def walk(directory: Path, real: Path, prefix: str, ancestors: frozenset[Path]) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            raise StoreError(f"cannot read {directory}: {err.strerror}", transient=os_transient(err)) from err
        subdirs: list[tuple[Path, Path, str]] = []
        for e in entries:
            rel, path = prefix + e.name, Path(e.path)
            if not prefix and rel in RESERVED_NAMES:
                continue
            if e.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except FileNotFoundError:
                    raise refuse(rel, f"a broken symlink (to {os.readlink(path)})") from None
                except (RuntimeError, OSError):
                    raise refuse(rel, "symlink loop") from None
                if target != root and root not in target.parents:
                    raise refuse(
                        rel, f"a symlink to {target}, outside {src}; copy the file in or remove the link"
                    )
                is_dir, is_file = target.is_dir(), target.is_file()
            else:
                target = real / e.name
                is_dir, is_file = e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)
            if is_dir:
                if target in ancestors:
                    raise refuse(rel, f"symlink loop (to {target}, which holds it)")
                subdirs.append((path, target, rel))
            elif is_file:
                items.append(Upload(rel=rel, source=path, size=path.stat().st_size))
            else:
                raise refuse(rel, "not a regular file (a socket, pipe or device); remove it")
        for path, target, rel in subdirs:
            walk(path, target, rel + "/", ancestors | {target})

    walk(src, root, "", frozenset({root}))
    return items


def _journal_entries(data: bytes, where: str) -> dict[str, dict[str, object]]:
    """The well-formed entries of a journal; the rest are dropped (their files are sent again)."""
    try:
        files = json.loads(data)["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
    except (ValueError, KeyError, TypeError) as err:
        log.warning("%s/%s: unreadable (%s); every file is sent again", where, JOURNAL_NAME, err)
        return {}
    good = {rel: e for rel, e in files.items() if _journal_entry_ok(rel, e)}
    if len(good) != len(files):
        log.warning("%s/%s: %d malformed entries ignored", where, JOURNAL_NAME, len(files) - len(good))
    return good


def _journal_entry_ok(rel: str, e: object) -> bool:
    try:
        check_rel_path(rel)
    except ValueError:
        return False
    return (
        rel not in RESERVED_NAMES
        and isinstance(e, dict)
        and type(e.get("size")) is int
        and e["size"] >= 0
        and isinstance(e.get("sha256"), str)
        and is_sha256(e["sha256"])
        and isinstance(e.get("etag"), str)
    )


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
        try:
            data = backend.read(JOURNAL_NAME, max_bytes=2 * MANIFEST_MAX_BYTES)
        except TooLarge as err:
            log.warning("%s (the journal); every file is sent again", err)
            data = None
        if data is not None:
            self.entries = _journal_entries(data, backend.location.uri)

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
    _check_manifest_size(uri, items, producer, work_digest)
    backend = open_backend(uri, cfg)
    remote = backend.list()
    old = _manifest_of(backend)
    journal = _Journal(backend)
    ours = set(journal.entries) | ({f.path for f in old.files} if old else set())

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

    if old is not None and not todo and _commits(old, entries, producer, work_digest):
        log.info("put %s: already committed with identical files; nothing to do", uri)
        return old
    if old is not None or MANIFEST_NAME in remote:
        backend.delete([MANIFEST_NAME])  # un-commit before changing anything
    stale = sorted(ours - {i.rel for i in items})
    if stale:  # files of an earlier put that are no longer in the directory (and may block its paths)
        backend.delete(stale)

    def uploaded(item: Upload, sha: str, info: ObjectInfo) -> None:
        if info.size != item.size or item.source.stat().st_size != item.size:
            raise StoreError(
                f"{item.source} changed size while it was uploaded ({item.size} bytes when listed, "
                f"{info.size} sent); put it again once it is complete",
                transient=True,
            )
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


def _commits(old: Manifest, entries: dict[str, FileEntry], producer: Producer, work_digest: str) -> bool:
    """``old`` already commits exactly these files (paths, sizes, sha256) for this producer and work."""
    return (
        {f.path: f for f in old.files} == entries
        and old.producer == producer
        and old.work_digest == work_digest
    )


def _check_manifest_size(uri: str, items: list[Upload], producer: Producer, work_digest: str) -> None:
    """Refuse, before sending anything, a manifest larger than readers accept (its size is known now:
    every sha256 has the same length)."""
    probe = Manifest(
        files=[FileEntry(i.rel, i.size, "0" * 64) for i in items],
        producer=producer,
        work_digest=work_digest,
        version=__version__,
    )
    size = len(probe.to_json().encode())
    if size > MANIFEST_MAX_BYTES:
        raise StoreError(
            f"the manifest of {uri} would be {size} bytes ({len(items)} files), over the limit of "
            f"{MANIFEST_MAX_BYTES} bytes that readers accept; pack the files into fewer (e.g. shards or a tar)"
        )


def read_manifest(
    uri: str, *, config: StoreConfig | None = None, max_bytes: int | None = None
) -> Manifest | None:
    """The artifact's manifest, or None when there is no valid one (no artifact).

    A manifest larger than ``max_bytes`` (default :data:`~pro.store.manifest.MANIFEST_MAX_BYTES`) is
    not read: :class:`~pro.store.errors.TooLarge`, a permanent StoreError, says so (a reader holds the
    parsed manifest in memory, a few times its size).
    """
    backend = open_backend(uri, config or StoreConfig())
    try:
        return _load(backend, max_bytes)
    except ValueError as err:
        log.warning("%s: ignoring invalid %s (%s)", uri, MANIFEST_NAME, err)
        return None


def artifact_exists(uri: str, *, config: StoreConfig | None = None) -> bool:
    return read_manifest(uri, config=config) is not None


def _require_manifest(backend: Backend) -> Manifest:
    try:
        manifest = _load(backend)
    except ValueError as err:
        raise StoreError(
            f"invalid {MANIFEST_NAME} at {backend.location.uri}: {err}; put the artifact again"
        ) from None
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

    Files land in the cache (keyed by manifest digest, so a second get downloads nothing); with
    ``dst_dir`` they are then hard-linked (private cache) or copied there.
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

    cache = ArtifactCache(cfg.resolved_cache_dir())
    entry = cache.fetch(manifest, fill)
    if dst_dir is None:
        return entry
    dst = Path(dst_dir)
    cache.place(entry, manifest, dst)
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
        raise StoreError(f"{uri}: cannot load artifact: {err}", transient=err.transient) from None


def verify_artifact(uri: str, *, config: StoreConfig | None = None) -> list[str]:
    """Re-read every file and check it against the manifest; the problems found (empty: OK)."""
    cfg = config or StoreConfig()
    backend = open_backend(uri, cfg)
    try:
        manifest = _load(backend)
    except (ValueError, TooLarge) as err:
        return [f"{MANIFEST_NAME}: invalid ({err})"]
    if manifest is None:
        return [f"{MANIFEST_NAME}: missing (no artifact at {uri})"]
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
