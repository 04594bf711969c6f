"""The backend for local directories (``file://`` URIs and plain paths).

Every object name is a clean relative path (no ``..``) and is reached only through real directories
under the root: a symlink in the store is no object (``list`` skips it, reads see nothing), and a path
through a symlinked directory is refused, so nothing outside the root is ever read, written or deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from pro.store.backend import Download, ObjectInfo, OnUploaded, Upload
from pro.store.config import StoreConfig
from pro.store.errors import PreconditionFailed, StoreError, make_dirs, os_transient, too_large
from pro.store.hashing import OnBytes, copy_hashing, hash_stream
from pro.store.manifest import check_rel_path
from pro.store.uri import Location

TMP_PREFIX = ".pro-tmp-"


def _etag(st: os.stat_result) -> str:
    """Changes whenever the file does: size, mtime, inode and ctime (which no one can set back)."""
    return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}-{st.st_ctime_ns}"


def _info(path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(size=st.st_size, etag=_etag(st))


class _Symlinked(StoreError):
    """An object path that goes through a symlinked directory."""


class LocalBackend:
    """Objects are files under a directory; every write goes to a temp file, then is renamed."""

    def __init__(self, location: Location, config: StoreConfig) -> None:
        assert location.path is not None
        self.location = location
        self.root = location.path
        self.workers = max(1, config.max_concurrency)

    def _path(self, rel: str) -> Path:
        """The file of object ``rel``, confined to the root: ``rel`` is a clean relative path and no
        directory on the way is a symlink (the last component is checked where it is opened)."""
        try:
            check_rel_path(rel)
        except ValueError:
            raise StoreError(
                f"{self.location.uri}: {rel!r} is no object name (not a clean relative path)"
            ) from None
        parts = rel.split("/")
        path = self.root
        for part in parts[:-1]:
            path = path / part
            if path.is_symlink():
                raise _Symlinked(
                    f"{self.location.uri}: {rel} goes through the symlink {path} -> {os.readlink(path)}; "
                    "the store holds no symlinks: remove it by hand"
                )
        return path / parts[-1]

    def list(self) -> dict[str, ObjectInfo]:
        if not self.root.is_dir():
            if self.root.exists():
                raise StoreError(f"{self.location.uri}: exists and is not a directory")
            return {}
        return {rel: ObjectInfo(st.st_size, _etag(st)) for rel, st in _walk(self.root, "")}

    @contextlib.contextmanager
    def _open(self, rel: str) -> Iterator[BinaryIO | None]:
        """The regular file of object ``rel`` opened for reading, or None (missing, or not a file)."""
        try:
            fd = os.open(self._path(rel), os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError, _Symlinked):
            yield None
            return
        except OSError as err:
            if err.errno == errno.ELOOP:  # the object itself is a symlink: no object
                yield None
                return
            raise StoreError(
                f"cannot read {self.location.uri}/{rel}: {err.strerror}", transient=os_transient(err)
            ) from err
        with os.fdopen(fd, "rb") as f:
            yield f if stat.S_ISREG(os.fstat(fd).st_mode) else None

    def read(self, rel: str, *, max_bytes: int | None = None) -> bytes | None:
        with self._open(rel) as f:
            if f is None:
                return None
            if max_bytes is None:
                return f.read()
            size = os.fstat(f.fileno()).st_size
            data = f.read(max_bytes + 1) if size <= max_bytes else b""
            if size > max_bytes or len(data) > max_bytes:
                raise too_large(f"{self.location.uri}/{rel}", max(size, len(data)), max_bytes)
            return data

    def _atomic(self, rel: str) -> tuple[Path, Path]:
        final = self._path(rel)
        make_dirs(final.parent)
        return final, final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{final.name}")

    def write(self, rel: str, data: bytes) -> None:
        final, tmp = self._atomic(rel)
        try:
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"cannot write {self.location.uri}/{rel}: {err.strerror}", transient=os_transient(err)
            ) from err

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        with self._open(rel) as f:
            if f is None:
                return None
            data = f.read()
            return data, _etag(os.fstat(f.fileno()))

    def write_if(self, rel: str, data: bytes, *, etag: str | None) -> str:
        final = self._path(rel)
        make_dirs(final.parent)
        # one writer at a time per object (an advisory lock beside it), then compare and replace
        with final.with_name(f".{final.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = _info(final).etag if final.exists() else None
                if current != etag:
                    raise PreconditionFailed(
                        f"{self.location.uri}/{rel} changed since it was read (expected "
                        f"{'no object' if etag is None else 'version ' + etag}); read it again"
                    )
                self.write(rel, data)
                return _info(final).etag
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _upload_one(self, item: Upload, on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        final, tmp = self._atomic(item.rel)
        try:
            with item.source.open("rb") as src, tmp.open("wb") as dst:
                sha, _size = copy_hashing(src, dst, on_bytes)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, final)
        except OSError as err:
            raise StoreError(
                f"cannot store {item.source} as {self.location.uri}/{item.rel}: {err.strerror}",
                transient=os_transient(err),
            ) from err
        finally:
            tmp.unlink(missing_ok=True)
        on_done(item, sha, _info(final))  # the size stored: the caller compares it with the size listed

    def upload(self, items: Sequence[Upload], on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        with ThreadPoolExecutor(self.workers) as pool:
            for fut in [pool.submit(self._upload_one, i, on_done, on_bytes) for i in items]:
                fut.result()

    def _download_one(self, item: Download, on_bytes: OnBytes | None) -> tuple[str, int]:
        with self._open(item.rel) as src:
            if src is None:
                raise StoreError(f"{self.location.uri}: file {item.rel!r} disappeared while reading it")
            if item.target is None:
                return hash_stream(src, on_bytes)
            item.target.parent.mkdir(parents=True, exist_ok=True)
            with item.target.open("wb") as d:
                return copy_hashing(src, d, on_bytes)

    def download(self, items: Sequence[Download], on_bytes: OnBytes | None) -> dict[str, tuple[str, int]]:
        with ThreadPoolExecutor(self.workers) as pool:
            futs = {i.rel: pool.submit(self._download_one, i, on_bytes) for i in items}
            return {rel: fut.result() for rel, fut in futs.items()}

    def delete(self, rels: Sequence[str]) -> None:
        """Remove the objects (a symlink named is removed itself, never followed); names that leave the
        root or go through a symlinked directory are left alone and reported after the rest is gone."""
        refused: list[str] = []
        removed: list[Path] = []
        for rel in rels:
            try:
                path = self._path(rel)
                path.unlink(missing_ok=True)
                removed.append(path)
            except StoreError as err:
                refused.append(str(err))
            except OSError as err:  # a directory, a read-only store, …
                refused.append(f"{self.location.uri}/{rel}: {err.strerror}")
        # prune directories left empty, deepest first, never the root or above it
        for path in sorted(removed, key=lambda p: -len(p.parts)):
            parent = path.parent
            while parent != self.root and self.root in parent.parents:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
        if refused:
            more = f" (+{len(refused) - 1} more)" if len(refused) > 1 else ""
            raise StoreError(f"not deleted: {refused[0]}{more}")


def _walk(root: Path, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root`` (never through a symlink), by posix path, with its lstat."""
    with os.scandir(root) as it:
        entries = list(it)
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_symlink() or entry.name.startswith(TMP_PREFIX):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), rel + "/")
        elif entry.is_file(follow_symlinks=False):
            yield rel, entry.stat(follow_symlinks=False)
