"""What runs of the same work share in the store, under ``<storage.uri>/<namespace>/<lineage>/`` (the
lineage is the schedule that created a pipeline, else the pipeline itself), and what one run pins:

- ``index/<work digest>.json``: which artifact holds that work (written once a stage's artifact is
  verified), so a later run reuses it instead of computing it again;
- ``<run root>/snapshot.json``: the data the run pinned when it started, written once (compare-and-swap),
  so a resumed run or a restarted operator reads exactly the same objects.

Small JSON objects through the store's backends; nothing here is large.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pro.planner.compose import Reuse
from pro.spec.conventions import join_uri, rfc3339
from pro.spec.data import RunSnapshot
from pro.store.api import open_backend, read_manifest
from pro.store.backend import Backend
from pro.store.config import StoreConfig
from pro.store.errors import PreconditionFailed, StoreError

log = logging.getLogger("pro.store.lineage")

INDEX = "index"
SNAPSHOT = "snapshot.json"


def find_work(lineage_root: str, digest: str, *, config: StoreConfig | None = None) -> Reuse | None:
    """The artifact an earlier run committed for work ``digest``, verified (its manifest records that
    digest); None when there is none (or the indexed artifact is gone or holds other work)."""
    backend = open_backend(join_uri(lineage_root, INDEX), config or StoreConfig())
    raw = backend.read(f"{digest}.json")
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
        uri, run = str(entry["artifact"]), str(entry["run"])
    except (ValueError, KeyError, TypeError):
        log.warning("%s/%s/%s.json: unreadable index entry, ignored", lineage_root, INDEX, digest)
        return None
    manifest = read_manifest(uri, config=config)
    if manifest is None or manifest.work_digest != digest:
        return None
    return Reuse(uri=uri, run=run)


def record_work(
    lineage_root: str, digest: str, *, artifact: str, run: str, stage: str, config: StoreConfig | None = None
) -> None:
    """Index ``artifact`` as the result of work ``digest`` (the latest run's wins; they are equal work)."""
    entry = {
        "workDigest": digest,
        "artifact": artifact,
        "run": run,
        "stage": stage,
        "recorded": rfc3339(datetime.now(UTC)),
    }
    open_backend(join_uri(lineage_root, INDEX), config or StoreConfig()).write(
        f"{digest}.json", (json.dumps(entry, indent=2) + "\n").encode()
    )


def run_snapshot(
    run_root: str, pin: Callable[[], RunSnapshot], *, config: StoreConfig | None = None
) -> RunSnapshot:
    """The run's snapshot: the one written when the run first started, else ``pin()``, written once (two
    writers racing both read the winner's)."""
    backend = open_backend(run_root, config or StoreConfig())
    found = _read_snapshot(backend, run_root)
    if found is not None:
        return found
    made = pin()
    try:
        backend.write_if(SNAPSHOT, (json.dumps(made.to_dict(), indent=1) + "\n").encode(), etag=None)
    except PreconditionFailed:
        found = _read_snapshot(backend, run_root)
        if found is not None:
            return found
        raise
    return made


def _read_snapshot(backend: Backend, run_root: str) -> RunSnapshot | None:
    raw = backend.read(SNAPSHOT)
    if raw is None:
        return None
    try:
        return RunSnapshot.model_validate_json(raw)
    except ValueError as err:
        raise StoreError(
            f"{run_root}/{SNAPSHOT}: unreadable ({err.__class__.__name__}); delete it to pin the data again"
        ) from None


__all__ = ["find_work", "record_work", "run_snapshot"]
