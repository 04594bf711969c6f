"""What runs of the same work share in the store, under ``<storage.uri>/<namespace>/<lineage>/`` (the
lineage is the schedule that created a pipeline, else the pipeline itself), and what one run pins:

- ``index/<work digest>.json``: which artifact holds that work (written once a stage's artifact is
  verified), so a later run reuses it instead of computing it again;
- ``<run root>/snapshot.json``: the data the run pinned when it started, written once (compare-and-swap),
  so a resumed run or a restarted operator reads exactly the same objects;
- ``promoted.json``: the policy in production, moved only by a conditional write (compare-and-swap on
  the version the run started from);
- ``runs/<runId>.json``: each run's record (the adapter's weights on the probe set, its decision), which
  ``pro drift`` reads.

Small JSON objects through the store's backends; nothing here is large.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from pro.planner.compose import SNAPSHOT_FILE as SNAPSHOT
from pro.planner.compose import Reuse
from pro.spec.conventions import join_uri, rfc3339
from pro.spec.promotion import POINTER, RUNS, PromotedPolicy, RunRecord
from pro.spec.run import RunSnapshot
from pro.store.api import open_backend, read_manifest
from pro.store.backend import Backend
from pro.store.config import StoreConfig
from pro.store.errors import PreconditionFailed, StoreError, store_logger

log = store_logger("pro.store.lineage")

INDEX = "index"


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


def read_promoted(
    lineage_root: str, *, config: StoreConfig | None = None
) -> tuple[PromotedPolicy, str] | None:
    """The lineage's promoted policy and the pointer's version (for a later conditional write)."""
    got = open_backend(lineage_root, config or StoreConfig()).read_tagged(POINTER)
    if got is None:
        return None
    raw, etag = got
    try:
        return PromotedPolicy.model_validate_json(raw), etag
    except ValueError as err:
        raise StoreError(
            f"{lineage_root}/{POINTER}: unreadable ({err.__class__.__name__}); fix or delete it"
        ) from None


def write_promoted(
    lineage_root: str, promoted: PromotedPolicy, *, etag: str | None, config: StoreConfig | None = None
) -> str:
    """Move the pointer to ``promoted`` if it is still at version ``etag`` (None: if there is none yet);
    raises :class:`~pro.store.errors.PreconditionFailed` otherwise.  Returns the new version."""
    data = (json.dumps(promoted.to_dict(), indent=2) + "\n").encode()
    return open_backend(lineage_root, config or StoreConfig()).write_if(POINTER, data, etag=etag)


def write_run_record(lineage_root: str, record: RunRecord, *, config: StoreConfig | None = None) -> None:
    """Record one run (``runs/<runId>.json``; a retry of the run replaces it)."""
    data = (json.dumps(record.to_dict(), indent=2) + "\n").encode()
    open_backend(join_uri(lineage_root, RUNS), config or StoreConfig()).write(f"{record.run}.json", data)


def run_records(lineage_root: str, *, config: StoreConfig | None = None) -> list[RunRecord]:
    """Every run record of the lineage, oldest first (by scheduled time, then record time)."""
    backend = open_backend(join_uri(lineage_root, RUNS), config or StoreConfig())
    out = []
    for rel in sorted(backend.list()):
        if "/" in rel or not rel.endswith(".json"):
            continue
        raw = backend.read(rel)
        if raw is None:
            continue
        try:
            out.append(RunRecord.model_validate_json(raw))
        except ValueError:
            log.warning("%s/%s/%s: unreadable run record, skipped", lineage_root, RUNS, rel)
    return sorted(out, key=lambda r: (r.scheduled_time or "", r.recorded_at))


def read_snapshot(uri: str, *, config: StoreConfig | None = None) -> RunSnapshot | None:
    """A run's ``snapshot.json`` by its URI (None when there is none)."""
    base, _, name = uri.rstrip("/").rpartition("/")
    return _read_snapshot(open_backend(base, config or StoreConfig()), base) if name == SNAPSHOT else None


__all__ = [
    "find_work",
    "read_promoted",
    "read_snapshot",
    "record_work",
    "run_records",
    "run_snapshot",
    "write_promoted",
    "write_run_record",
]
