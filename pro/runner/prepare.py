"""Before a run's first stage: fill the firing's time, pin the data once, find work earlier runs did.

The same steps the operator's pipeline controller takes (with its own I/O): the run's snapshot is written
once under its run root, so resuming the run (the same command again) reads the same objects; a stage whose
work digest an earlier run of the same lineage committed is reused, not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pro.data.objects import pin_all
from pro.errors import UserError
from pro.planner.compose import (
    Composition,
    Reuse,
    compose,
    data_refs,
    lineage_root,
    run_root,
    with_scheduled_time,
)
from pro.spec.conventions import parse_rfc3339, rfc3339
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.run import PromotedPin, RunSnapshot
from pro.store import read_manifest
from pro.store.lineage import find_work, read_promoted, run_snapshot


@dataclass(frozen=True)
class PreparedRun:
    """A run ready for the planner: its composition (pinned data, reused stages) and its snapshot."""

    composition: Composition
    snapshot: RunSnapshot


def prepare(pipeline: AlignmentPipeline, scheduled: datetime | None = None) -> PreparedRun:
    """Pin the run's data (once per run id) and compose it, reusing earlier runs' committed work."""

    def pin_now() -> RunSnapshot:
        when = scheduled or datetime.now(UTC)
        filled = with_scheduled_time(pipeline, when)
        data = pin_all(ref for _, ref in data_refs(filled))
        promoted = read_promoted(lineage_root(pipeline)) if pipeline.spec.promotion is not None else None
        pin = (
            PromotedPin(etag=promoted[1], policy=promoted[0].policy, run=promoted[0].run)
            if promoted
            else None
        )
        return RunSnapshot(scheduled_time=rfc3339(when), data=data, promoted=pin)

    snapshot = run_snapshot(run_root(pipeline), pin_now)
    pinned_at = parse_rfc3339(snapshot.scheduled_time)
    assert pinned_at is not None
    if scheduled is not None and rfc3339(scheduled) != snapshot.scheduled_time:
        raise UserError(
            f"run {pipeline.spec.run_id!r} pinned its data for scheduled time {snapshot.scheduled_time}, not "
            f"{rfc3339(scheduled)}: use another --run-id for another firing"
        )
    filled = with_scheduled_time(pipeline, pinned_at)
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


__all__ = ["PreparedRun", "prepare"]
