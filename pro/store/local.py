"""The backend for local directories (``file://`` URIs and plain paths)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pro.store.backend import Download, ObjectInfo, OnUploaded, Upload
from pro.store.config import StoreConfig
from pro.store.errors import PreconditionFailed, StoreError, make_dirs
from pro.store.hashing import OnBytes, copy_hashing, hash_file
from pro.store.uri import Location

TMP_PREFIX = ".pro-tmp-"


def _info(path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(size=st.st_size, etag=f"{st.st_size}-{st.st_mtime_ns}")


class LocalBackend:
    """Objects are files under a directory; every write goes to a temp file, then is renamed."""

    def __init__(self, location: Location, config: StoreConfig) -> None:
        assert location.path is not None
        self.location = location
        self.root = location.path
        self.workers = max(1, config.max_concurrency)

    def _path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def list(self) -> dict[str, ObjectInfo]:
        if not self.root.is_dir():
            if self.root.exists():
                raise StoreError(f"{self.location.uri}: exists and is not a directory")
            return {}
        out: dict[str, ObjectInfo] = {}
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(TMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                out[path.relative_to(self.root).as_posix()] = _info(path)
        return out

    def read(self, rel: str) -> bytes | None:
        try:
            return self._path(rel).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _atomic(self, rel: str) -> tuple[Path, Path]:
        final = self._path(rel)
        make_dirs(final.parent)
        return final, final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{final.name}")

    def write(self, rel: str, data: bytes) -> None:
        final, tmp = self._atomic(rel)
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        path = self._path(rel)
        try:
            with path.open("rb") as f:
                data = f.read()
                return data, _info(path).etag
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

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
        finally:
            tmp.unlink(missing_ok=True)
        on_done(item, sha, _info(final))

    def upload(self, items: Sequence[Upload], on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        with ThreadPoolExecutor(self.workers) as pool:
            for fut in [pool.submit(self._upload_one, i, on_done, on_bytes) for i in items]:
                fut.result()

    def _download_one(self, item: Download, on_bytes: OnBytes | None) -> tuple[str, int]:
        src = self._path(item.rel)
        try:
            if item.target is None:
                return hash_file(src, on_bytes)
            item.target.parent.mkdir(parents=True, exist_ok=True)
            with src.open("rb") as s, item.target.open("wb") as d:
                return copy_hashing(s, d, on_bytes)
        except FileNotFoundError as err:
            raise StoreError(f"{self.location.uri}: file {item.rel!r} disappeared while reading it") from err

    def download(self, items: Sequence[Download], on_bytes: OnBytes | None) -> dict[str, tuple[str, int]]:
        with ThreadPoolExecutor(self.workers) as pool:
            futs = {i.rel: pool.submit(self._download_one, i, on_bytes) for i in items}
            return {rel: fut.result() for rel, fut in futs.items()}

    def delete(self, rels: Sequence[str]) -> None:
        for rel in rels:
            self._path(rel).unlink(missing_ok=True)
        # prune directories left empty, deepest first, never the root's parents
        for rel in sorted(rels, key=lambda r: -r.count("/")):
            parent = self._path(rel).parent
            while parent != self.root and self.root in parent.parents:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
