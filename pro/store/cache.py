"""The local artifact cache: one verified directory per manifest digest, safe across processes.

Nothing is trusted for being in the cache.  A hit is used only when the entry holds exactly the
manifest's files (no symlink, nothing added) and each is either the very file verified when it was
filled — same size, mtime and inode as recorded then in ``.<digest>.verified`` beside the entry — or
hashes to the manifest again; otherwise the entry is moved aside and downloaded afresh.  The records are
believed only in a *private* cache, a directory this user owns and no one else may write to (a new one
is created 0700).  In any other (shared, or made by someone else) every hit is hashed in full and files
are copied out of it, never hard-linked, so another user's file never becomes a destination's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from pro.store.errors import StoreError, make_dirs, os_transient, store_logger
from pro.store.hashing import copy_hashing, hash_file
from pro.store.manifest import MANIFEST_NAME, Manifest

log = store_logger("pro.store.cache")
_warned: set[Path] = set()

#: (size, mtime_ns, inode): a file's identity recorded when it was verified
Mark = tuple[int, int, int]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held by this process while inside."""
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def is_private(root: Path) -> bool:
    """The directory is this user's and no one else may write to it."""
    try:
        st = root.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _mark(st: os.stat_result) -> Mark:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _tree(root: Path, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """Everything under ``root`` but directories (symlinks included, never followed), with its lstat."""
    with os.scandir(root) as it:
        entries = list(it)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _tree(Path(entry.path), f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}", entry.stat(follow_symlinks=False)


def _layout(entry: Path, manifest: Manifest) -> dict[str, os.stat_result] | None:
    """The entry's files by path when it holds exactly the manifest's regular files of the right sizes
    and its manifest, else None."""
    try:
        if not stat.S_ISDIR(entry.lstat().st_mode):
            return None
        found = dict(_tree(entry))
        if set(found) != {f.path for f in manifest.files} | {MANIFEST_NAME}:
            return None
        if any(not stat.S_ISREG(st.st_mode) for st in found.values()):
            return None
        if any(found[f.path].st_size != f.size for f in manifest.files):
            return None
        if (entry / MANIFEST_NAME).read_text() != manifest.to_json():
            return None
    except (OSError, UnicodeDecodeError):
        return None
    return found


class ArtifactCache:
    """``<root>/<manifest digest>/`` holds the artifact's files (read-only) and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def private(self) -> bool:
        return is_private(self.root)

    def entry(self, manifest: Manifest) -> Path:
        return self.root / manifest.digest

    def _record(self, manifest: Manifest) -> Path:
        return self.root / f".{manifest.digest}.verified"

    def _recorded(self, manifest: Manifest) -> dict[str, Mark]:
        try:
            data = json.loads(self._record(manifest).read_bytes())
            return {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in data.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return {}

    def _write_record(self, manifest: Manifest, found: dict[str, os.stat_result]) -> None:
        record = self._record(manifest)
        tmp = record.with_name(f"{record.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps({f.path: _mark(found[f.path]) for f in manifest.files}))
        tmp.replace(record)

    def _valid(self, entry: Path, manifest: Manifest, *, hashing: bool) -> bool:
        """The entry is the manifest's: files unchanged since recorded (private cache), else (when
        ``hashing``) hashed again; a private cache records what it hashed."""
        found = _layout(entry, manifest)
        if found is None:
            return False
        private = self.private
        known = self._recorded(manifest) if private else {}
        changed = [f for f in manifest.files if known.get(f.path) != _mark(found[f.path])]
        if not changed:
            return True
        if not hashing:
            return False
        for f in changed:
            if hash_file(entry.joinpath(*f.path.split("/"))) != (f.sha256, f.size):
                return False
        if private:
            self._write_record(manifest, found)
        return True

    def fetch(self, manifest: Manifest, fill: Callable[[Path], None]) -> Path:
        """The entry for ``manifest``; on a miss ``fill(tmp_dir)`` downloads and verifies into
        a temp dir that is renamed into place.  Concurrent callers (torchrun ranks) wait for
        one download and reuse it."""
        final = self.entry(manifest)
        if self._valid(final, manifest, hashing=not self.private):  # a private cache hashes under the lock
            return final
        make_dirs(self.root, "set PRO_CACHE_DIR (or --cache-dir) to a writable directory", mode=0o700)
        if not self.private and self.root not in _warned:
            _warned.add(self.root)
            log.info(
                "cache %s is writable by others (or not yours): every hit is hashed again and files are "
                "copied out; chmod go-w it if it is yours alone",
                self.root,
            )
        with _locked(self.root / f".{manifest.digest}.lock"):
            if self._valid(final, manifest, hashing=True):
                return final
            if final.exists() or final.is_symlink():  # damaged or foreign: move it aside, then delete
                stale = self.root / f".stale-{uuid.uuid4().hex[:8]}"
                try:
                    final.rename(stale)
                except OSError as err:
                    raise StoreError(
                        f"cache entry {final} does not match its manifest and cannot be replaced "
                        f"({err.strerror}); remove it, or set PRO_CACHE_DIR to a directory of your own"
                    ) from err
                _rmtree(stale)
            tmp = self.root / f".tmp-{manifest.digest[:16]}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                fill(tmp)
                for f in manifest.files:
                    p = tmp.joinpath(*f.path.split("/"))
                    p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
                (tmp / MANIFEST_NAME).write_text(manifest.to_json())
                tmp.rename(final)
            finally:
                if tmp.exists():
                    _rmtree(tmp)
            found = _layout(final, manifest)
            if found is not None and self.private:
                self._write_record(manifest, found)
        return final

    def place(self, entry: Path, manifest: Manifest, dst: Path) -> None:
        """Put the entry's files in ``dst``: hard links from a private cache (its files are read-only,
        and a change made through a link is caught by the next hit's check), verified copies otherwise."""
        link = self.private
        for f in manifest.files:
            src = entry.joinpath(*f.path.split("/"))
            target = dst.joinpath(*f.path.split("/"))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)
                if link:
                    try:
                        os.link(src, target)
                        continue
                    except OSError:
                        pass
                with src.open("rb") as s, target.open("wb") as d:
                    got = copy_hashing(s, d)
            except OSError as err:
                raise StoreError(
                    f"cannot place {f.path} in {dst}: {err.strerror}", transient=os_transient(err)
                ) from err
            if got != (f.sha256, f.size):
                target.unlink(missing_ok=True)
                raise StoreError(
                    f"cache entry {entry} changed while {f.path} was copied out of it; get it again",
                    transient=True,
                )
        (dst / MANIFEST_NAME).unlink(missing_ok=True)
        (dst / MANIFEST_NAME).write_text(manifest.to_json())


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # read-only files in writable dirs: deletable


__all__ = ["ArtifactCache", "is_private"]
