"""Before a run's first stage: fill the firing's time, pin the data once, find work earlier runs did.

The local runner (``pro run``) and the operator's pipeline controller both call :func:`prepare`: the run's
snapshot is written once under its run root, so resuming the run (the same command again, a restarted
operator) reads the same objects; a stage whose work digest an earlier run of the same lineage committed is
reused, not run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pro.data.errors import DataError
from pro.data.objects import pin
from pro.errors import UserError
from pro.planner.compose import (
    SNAPSHOT_FILE,
    Composition,
    Reuse,
    compose,
    data_refs,
    lineage_root,
    run_root,
    with_scheduled_time,
)
from pro.spec.conventions import join_uri, parse_rfc3339, rfc3339
from pro.spec.data import DataSnapshot
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.run import PromotedPin, RunSnapshot
from pro.spec.status import DataSnapshotStatus, EvaluationStatus, PromotionStatus, WeightDriftStatus
from pro.store import StoreError, read_manifest
from pro.store.lineage import find_work, read_promoted, read_snapshot, run_snapshot


def transient(err: UserError) -> bool:
    """Whether retrying the same work may succeed after ``err`` (the one answer ``pro stage``, and so both
    runners, and the operator give): only when the error says so (a store error from an unreachable endpoint,
    throttling, a 5xx); a spec, a missing file, a malformed row or a refused credential is permanent."""
    return bool(getattr(err, "transient", False))


@dataclass(frozen=True)
class PreparedRun:
    """A run ready for the planner: its composition (pinned data, reused stages) and its snapshot."""

    composition: Composition
    snapshot: RunSnapshot


def pin_fields(refs: Iterable[tuple[str, str]], reachable: Callable[[str], bool]) -> DataSnapshot:
    """Every reachable reference pinned once; one that resolves to nothing fails naming its field."""
    out: DataSnapshot = {}
    for field, ref in refs:
        if ref in out or not reachable(ref):
            continue
        try:
            out[ref] = pin(ref)
        except (DataError, StoreError) as err:  # the same error (permanent or not), naming the field
            err.args = (f"{field}: {err}", *err.args[1:])
            raise
    return out


def prepare(
    pipeline: AlignmentPipeline,
    scheduled: datetime | None = None,
    *,
    reachable: Callable[[str], bool] = lambda ref: True,
    write: bool = True,
) -> PreparedRun:
    """Pin the run's data (once per run id) and compose it, reusing earlier runs' committed work.

    ``reachable``: the references this process can read (the operator reaches ``s3://`` only; a local
    path is the stage pod's, pinned when the stage reads it); ``write=False``: a dry run — the snapshot of
    a run that started is read, else the data is pinned without writing anything."""

    def pin_now() -> RunSnapshot:
        when = scheduled or datetime.now(UTC)
        filled = with_scheduled_time(pipeline, when)
        data = pin_fields(data_refs(filled), reachable)
        promoted = read_promoted(lineage_root(pipeline)) if pipeline.spec.promotion is not None else None
        pin = (
            PromotedPin(etag=promoted[1], policy=promoted[0].policy, run=promoted[0].run)
            if promoted
            else None
        )
        return RunSnapshot(scheduled_time=rfc3339(when), data=data, promoted=pin)

    if write:
        snapshot = run_snapshot(run_root(pipeline), pin_now)
    else:
        snapshot = read_snapshot(join_uri(run_root(pipeline), SNAPSHOT_FILE)) or pin_now()
    if scheduled is not None and rfc3339(scheduled) != snapshot.scheduled_time:
        raise UserError(
            f"run {pipeline.spec.run_id!r} pinned its data for scheduled time {snapshot.scheduled_time}, not "
            f"{rfc3339(scheduled)}: use another --run-id for another firing"
        )
    filled = filled_for(pipeline, snapshot)
    first = compose(filled, snapshot)
    reused: dict[str, Reuse] = {}
    for stage in first.stages:
        own = read_manifest(stage.output)
        if own is not None and own.work_digest == stage.digest:
            continue  # this run committed it already (a resumed run)
        found = find_work(lineage_root(filled), stage.digest)
        if found is not None and found.uri != stage.output:
            reused[stage.name] = found
    return PreparedRun(compose(filled, snapshot, reused), snapshot)


def filled_for(pipeline: AlignmentPipeline, snapshot: RunSnapshot) -> AlignmentPipeline:
    """The pipeline with the run's scheduled time in its data references."""
    pinned_at = parse_rfc3339(snapshot.scheduled_time)
    assert pinned_at is not None
    return with_scheduled_time(pipeline, pinned_at)


def resumed(pipeline: AlignmentPipeline, snapshot: RunSnapshot, reused: Mapping[str, Reuse]) -> PreparedRun:
    """A run that started already, from what it recorded then: no store I/O, the same composition."""
    return PreparedRun(compose(filled_for(pipeline, snapshot), snapshot, reused), snapshot)


def data_status(pipeline: AlignmentPipeline, snapshot: RunSnapshot) -> DataSnapshotStatus:
    """The summary of what the run pinned, for its status."""
    objects = [o for pins in snapshot.data.values() for o in pins.objects]
    return DataSnapshotStatus(
        snapshot=join_uri(run_root(pipeline), SNAPSHOT_FILE),
        scheduled_time=snapshot.scheduled_time,
        references=len(snapshot.data),
        objects=len(objects),
        bytes=sum(o.size for o in objects),
        selected=sorted({p.selected for p in snapshot.data.values() if p.selected}),
    )


#: ``promotion.json`` is a few hundred bytes; anything far larger is not ours to read whole
MAX_PROMOTION_BYTES = 64 * 1024
#: ``metrics.json`` holds per-category and per-objective numbers and a few sample rows: kilobytes
MAX_METRICS_BYTES = 16 * 1024 * 1024


def _artifact_json(uri: str, name: str, limit: int) -> Any:
    """The JSON file ``name`` of the artifact at ``uri`` (None: absent, larger than ``limit`` or not JSON)."""
    from pro.store.api import open_backend
    from pro.store.config import StoreConfig

    raw = open_backend(uri, StoreConfig()).read(name)
    if raw is None or len(raw) > limit:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def promotion_outcome(eval_uri: str) -> tuple[PromotionStatus, WeightDriftStatus | None] | None:
    """The gate's decision and the weight move recorded by a committed evaluation (None: it has none)."""
    p = _artifact_json(eval_uri, "promotion.json", MAX_PROMOTION_BYTES)
    if p is None:
        return None
    try:
        status = PromotionStatus(
            decision=str(p["decision"]),
            baseline=str(p["baseline"]),
            win_rate=p.get("winRate"),
            win_rate_low=p.get("winRateLow"),
            win_rate_high=p.get("winRateHigh"),
            reasons=[str(r) for r in p.get("reasons", [])],
        )
        drift = p.get("drift")
        moved = WeightDriftStatus.model_validate(drift) if drift else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return status, moved


def evaluation_outcome(eval_uri: str) -> EvaluationStatus | None:
    """The win rate a committed evaluation recorded in its ``metrics.json`` (None: none readable)."""
    m = _artifact_json(eval_uri, "metrics.json", MAX_METRICS_BYTES)
    try:
        low, high = m.get("interval") or (None, None)
        return EvaluationStatus(
            policy_a=str(m["policyA"]),
            policy_b=str(m["policyB"]),
            prompts=int(m["prompts"]),
            win_rate=float(m["winRate"]),
            win_rate_low=None if low is None else float(low),
            win_rate_high=None if high is None else float(high),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def result_line(evaluation: EvaluationStatus | None, promotion: PromotionStatus | None) -> str:
    """A pipeline's outcome in a few words (its ``status.result``): the win rate, and the gate's decision."""
    if promotion is not None:
        rate = f", win rate {promotion.win_rate:.3f}" if promotion.win_rate is not None else ""
        return f"{promotion.decision}{rate}"
    return f"win rate {evaluation.win_rate:.3f}" if evaluation is not None else ""


__all__ = [
    "PreparedRun",
    "data_status",
    "evaluation_outcome",
    "filled_for",
    "pin_fields",
    "prepare",
    "promotion_outcome",
    "result_line",
    "resumed",
]
