"""The pure schedule planner: ``plan_schedule(spec, observed, now) -> SchedulePlan``.

What a CronJob controller decides, for ``AlignmentSchedule``: whether a pipeline is due (only the most
recent missed firing, and not when older than ``startingDeadlineSeconds``), what the concurrency policy
says about the running ones, which finished pipelines fall out of the history, and when to look again.
No I/O and no clock reads: the operator observes, calls this, and carries the plan out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pro.planner.compose import with_scheduled_time
from pro.spec.base import ObjectMeta
from pro.spec.conventions import SCHEDULE_LABEL, SCHEDULED_AT, k8s_name, rfc3339
from pro.spec.cron import Cron, parse_cron
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.schedule import AlignmentSchedule, AlignmentScheduleSpec
from pro.spec.status import PipelinePhase

SUCCEEDED = PipelinePhase.SUCCEEDED
#: pipeline phases that end it without success
FAILED = frozenset({PipelinePhase.FAILED, PipelinePhase.INVALID})
#: windows searched backwards for the most recent firing (short first: frequent schedules stay cheap)
_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=367))


@dataclass(frozen=True)
class ChildPipeline:
    """A pipeline this schedule created, as observed."""

    name: str
    scheduled: datetime | None
    """The firing it was created for (its ``scheduled-at`` annotation)."""
    phase: PipelinePhase
    """The pipeline's ``status.phase``."""
    finished: datetime | None = None
    """``status.completionTime`` once it has finished."""

    @property
    def done(self) -> bool:
        return self.phase == SUCCEEDED or self.phase in FAILED


@dataclass(frozen=True)
class ScheduleObserved:
    """What the operator saw of a schedule: when it was created, its last firing and its pipelines."""

    created: datetime
    last_schedule_time: datetime | None = None
    children: tuple[ChildPipeline, ...] = ()


@dataclass(frozen=True)
class Skip:
    """Why a due firing creates no pipeline: a CamelCase reason and a message."""

    reason: str
    message: str


@dataclass(frozen=True)
class SchedulePlan:
    """What to do now; the operator carries out ``delete`` first, then ``create``."""

    create: datetime | None
    """Create the pipeline for this firing (then record it as ``status.lastScheduleTime``)."""
    delete: tuple[str, ...]
    """Pipelines to delete: running ones replaced (``Replace``), then history beyond the limits, oldest
    first."""
    skipped: Skip | None
    """Why a due firing (or every firing, while suspended) creates nothing."""
    next_time: datetime | None
    """The next firing after ``now``: requeue then, and show it as ``status.nextScheduleTime`` (None while
    suspended)."""
    active: tuple[str, ...]
    """Unfinished pipelines after the plan (``status.active``)."""
    last_schedule_time: datetime | None
    """``status.lastScheduleTime`` after the plan."""
    last_successful_time: datetime | None
    """When the latest succeeded pipeline finished (``status.lastSuccessfulTime``)."""


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("the schedule planner needs aware datetimes")
    return t.astimezone(UTC)


def most_recent_firing(cron: Cron, tz: str | None, after: datetime, now: datetime) -> datetime | None:
    """The latest firing in ``(after, now]``, or None."""
    for window in (*_WINDOWS, now - after):
        start = max(after, now - window)
        found = None
        t = cron.next_after(start, tz)
        while t <= now:
            found = t
            t = cron.next_after(t, tz)
        if found is not None or start == after:
            return found
    return None


def _history(children: list[ChildPipeline], limit: int) -> list[str]:
    """Names beyond ``limit`` among finished pipelines, oldest first."""
    floor = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(children, key=lambda c: (c.finished or c.scheduled or floor, c.name))
    return [c.name for c in ordered[: max(0, len(ordered) - limit)]]


def plan_schedule(spec: AlignmentScheduleSpec, observed: ScheduleObserved, now: datetime) -> SchedulePlan:
    """Decide what a schedule does at ``now`` (aware datetimes throughout; results in UTC)."""
    now = _utc(now)
    cron = parse_cron(spec.schedule)
    tz = spec.time_zone
    children = observed.children
    running = [c for c in children if not c.done]
    succeeded = [c for c in children if c.phase == SUCCEEDED]
    failed = [c for c in children if c.phase in FAILED]
    history = _history(succeeded, spec.successful_pipelines_history_limit) + _history(
        failed, spec.failed_pipelines_history_limit
    )
    last_ok = max((c.finished for c in succeeded if c.finished is not None), default=None)
    last = _utc(observed.last_schedule_time) if observed.last_schedule_time else None

    create: datetime | None = None
    replaced: list[str] = []
    skipped: Skip | None = None
    due = most_recent_firing(cron, tz, last or _utc(observed.created), now)
    if spec.suspend:
        skipped = Skip("Suspended", "the schedule is suspended: no pipeline is created")
    elif due is None:
        pass
    elif spec.starting_deadline_seconds is not None and due < now - timedelta(
        seconds=spec.starting_deadline_seconds
    ):
        skipped = Skip(
            "DeadlineExceeded",
            f"missed the firing at {rfc3339(due)} by more than startingDeadlineSeconds "
            f"({spec.starting_deadline_seconds})",
        )
    elif any(c.scheduled is not None and _utc(c.scheduled) == due for c in children):
        last = due  # created before, not yet recorded: record it, create nothing
    elif running and spec.concurrency_policy == "Forbid":
        skipped = Skip(
            "ConcurrencyForbidden",
            f"skipped the firing at {rfc3339(due)}: {', '.join(c.name for c in running)} still running "
            "(concurrencyPolicy Forbid)",
        )
    else:
        create = last = due
        if spec.concurrency_policy == "Replace":
            replaced = [c.name for c in running]
    active = tuple(c.name for c in running if c.name not in replaced)
    return SchedulePlan(
        create=create,
        delete=tuple(dict.fromkeys([*replaced, *history])),
        skipped=skipped,
        next_time=None if spec.suspend else cron.next_after(now, tz),
        active=active,
        last_schedule_time=last,
        last_successful_time=_utc(last_ok) if last_ok else None,
    )


def pipeline_name(schedule: str, scheduled: datetime) -> str:
    """``<schedule>-<unix minutes>``, the schedule part shortened with a hash to fit 63 characters."""
    return k8s_name(schedule, suffix=f"-{int(_utc(scheduled).timestamp()) // 60}")


def pipeline_for_firing(schedule: AlignmentSchedule, scheduled: datetime) -> AlignmentPipeline:
    """The pipeline a schedule creates for the firing at ``scheduled``: fresh ``runId`` ``t<unix minutes>``,
    the template's labels and annotations plus the schedule label and the firing time, and the firing's
    time filled into its data references' ``{{scheduledTime:…}}`` placeholders."""
    minutes = int(_utc(scheduled).timestamp()) // 60
    template = schedule.spec.pipeline_template
    meta = ObjectMeta(
        name=pipeline_name(schedule.metadata.name, scheduled),
        namespace=schedule.metadata.namespace,
        labels={**template.metadata.labels, SCHEDULE_LABEL: schedule.metadata.name},
        annotations={**template.metadata.annotations, SCHEDULED_AT: rfc3339(scheduled)},
    )
    spec = template.spec.model_copy(update={"run_id": f"t{minutes}"})
    return with_scheduled_time(AlignmentPipeline(metadata=meta, spec=spec), scheduled)


__all__ = [
    "ChildPipeline",
    "ScheduleObserved",
    "SchedulePlan",
    "Skip",
    "pipeline_for_firing",
    "pipeline_name",
    "plan_schedule",
]
