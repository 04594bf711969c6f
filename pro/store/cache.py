"""The local artifact cache: one verified directory per manifest digest, safe across processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from pro.store.errors import make_dirs
from pro.store.manifest import MANIFEST_NAME, Manifest


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held by this process while inside."""
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _complete(entry: Path, manifest: Manifest) -> bool:
    """The entry was committed (manifest written last) and no file changed size since."""
    if not (entry / MANIFEST_NAME).is_file():
        return False
    for f in manifest.files:
        p = entry.joinpath(*f.path.split("/"))
        if not p.is_file() or p.stat().st_size != f.size:
            return False
    return True


class ArtifactCache:
    """``<root>/<manifest digest>/`` holds the artifact's files (read-only) and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, manifest: Manifest) -> Path:
        return self.root / manifest.digest

    def fetch(self, manifest: Manifest, fill: Callable[[Path], None]) -> Path:
        """The entry for ``manifest``; on a miss ``fill(tmp_dir)`` downloads and verifies into
        a temp dir that is renamed into place.  Concurrent callers (torchrun ranks) wait for
        one download and reuse it."""
        final = self.entry(manifest)
        if _complete(final, manifest):
            return final
        make_dirs(self.root, "set PRO_CACHE_DIR (or --cache-dir) to a writable directory")
        with _locked(self.root / f".{manifest.digest}.lock"):
            if _complete(final, manifest):
                return final
            if final.exists():  # damaged entry: move it aside, then delete
                stale = self.root / f".stale-{uuid.uuid4().hex[:8]}"
                final.rename(stale)
                _rmtree(stale)
            tmp = self.root / f".tmp-{manifest.digest[:16]}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                fill(tmp)
                for f in manifest.files:
                    p = tmp.joinpath(*f.path.split("/"))
                    p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
                (tmp / MANIFEST_NAME).write_text(manifest.to_json())
                try:
                    tmp.rename(final)
                except OSError:
                    if not _complete(final, manifest):
                        raise
            finally:
                if tmp.exists():
                    _rmtree(tmp)
        return final


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # read-only files in writable dirs: deletable


def materialize(entry: Path, manifest: Manifest, dst: Path) -> None:
    """Place the cached files in ``dst``: hard links when possible (cache files are read-only,
    so an in-place write fails instead of corrupting the cache), copies otherwise."""
    for f in manifest.files:
        src = entry.joinpath(*f.path.split("/"))
        target = dst.joinpath(*f.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(src, target)
        except OSError:
            shutil.copyfile(src, target)
    (dst / MANIFEST_NAME).unlink(missing_ok=True)
    (dst / MANIFEST_NAME).write_text(manifest.to_json())
