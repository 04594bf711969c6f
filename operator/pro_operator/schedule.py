"""The schedule controller: an AlignmentSchedule creates AlignmentPipelines on its cron schedule (what a
CronJob does for Jobs), through the pure schedule planner; time comes from :mod:`pro_operator.clock`.

One pass: :func:`observe` (the schedule's pipelines from the cache) → :func:`~pro.planner.schedule.
plan_schedule` → :func:`act` (delete, create) → :func:`schedule_status` (pure, typed) and the Events of
what was done and of a skipped firing (once per firing: when ``nextScheduleTime`` moves on).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pro.planner.schedule import (
    ChildPipeline,
    ScheduleObserved,
    SchedulePlan,
    pipeline_for_firing,
    plan_schedule,
)
from pro.render.jobs import owner_reference
from pro.spec import SpecError
from pro.spec.conventions import GROUP_VERSION, SCHEDULE_LABEL, SCHEDULED_AT, parse_rfc3339, rfc3339
from pro.spec.kinds import PIPELINE_KIND, SCHEDULE_KIND, kind_named
from pro.spec.schedule import AlignmentSchedule
from pro.spec.status import AlignmentPipelineStatus, AlignmentScheduleStatus, LastPromoted, PipelinePhase
from pro_operator import clock
from pro_operator.conditions import set_conditions
from pro_operator.context import Context
from pro_operator.events import Event
from pro_operator.kube import Conflict, custom_ref
from pro_operator.publish import publish, read_status
from pro_operator.specs import parsed, publish_invalid

Obj = dict[str, Any]
PLURAL = kind_named(SCHEDULE_KIND).plural
PIPELINES = kind_named(PIPELINE_KIND).plural


def reconcile_schedule(ctx: Context, namespace: str, name: str) -> datetime | None:
    """One pass of the schedule controller; returns when the next firing is due."""
    body = ctx.cache.get(PLURAL, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    now = clock.now()
    stamp = rfc3339(now)
    ref = custom_ref(PLURAL, namespace, name)
    try:
        schedule: AlignmentSchedule = parsed(ctx, SCHEDULE_KIND, body)
    except SpecError as err:
        publish_invalid(ctx, body, ref, err, AlignmentScheduleStatus, condition="Valid", now=stamp)
        return None
    schedule = schedule.model_copy(
        update={"metadata": schedule.metadata.model_copy(update={"namespace": namespace})}
    )
    old = read_status(AlignmentScheduleStatus, body)
    decided = plan_schedule(schedule.spec, observe(ctx, body, old, now), now)
    events = act(ctx, schedule, decided, body["metadata"].get("uid", ""))
    status = schedule_status(schedule, body, old, decided, stamp)
    status = status.model_copy(update={"last_promoted": last_promoted(ctx, body, old)})
    if (
        decided.create is None
        and decided.skipped is not None
        and status.next_schedule_time != (old.next_schedule_time if old else None)
    ):  # once per firing, not on every reconcile
        events.append(Event(decided.skipped.reason, decided.skipped.message))
    publish(ctx, body, ref, status, events=events, now=stamp)
    return decided.next_time


def observe(ctx: Context, body: Obj, old: AlignmentScheduleStatus | None, now: datetime) -> ScheduleObserved:
    """The schedule's pipelines (created by it, owned by it) from the cache."""
    meta = body["metadata"]
    uid = meta.get("uid", "")
    children = []
    for p in ctx.cache.by_label(PIPELINES, meta["namespace"], SCHEDULE_LABEL, meta["name"]):
        if not any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or []):
            continue
        st = read_status(AlignmentPipelineStatus, p)
        children.append(
            ChildPipeline(
                p["metadata"]["name"],
                parse_rfc3339((p["metadata"].get("annotations") or {}).get(SCHEDULED_AT)),
                st.phase if st is not None else PipelinePhase.PENDING,
                parse_rfc3339(st.completion_time if st is not None else None),
            )
        )
    return ScheduleObserved(
        created=parse_rfc3339(meta.get("creationTimestamp")) or now,
        last_schedule_time=parse_rfc3339(old.last_schedule_time if old else None),
        children=tuple(children),
    )


def last_promoted(ctx: Context, body: Obj, old: AlignmentScheduleStatus | None) -> LastPromoted | None:
    """The latest of the schedule's pipelines whose policy the gate promoted (kept after the history
    limit deletes that pipeline)."""
    meta = body["metadata"]
    found = old.last_promoted if old else None
    for p in ctx.cache.by_label(PIPELINES, meta["namespace"], SCHEDULE_LABEL, meta["name"]):
        st = read_status(AlignmentPipelineStatus, p)
        if st is None or st.promotion is None or st.promotion.decision != "Promoted":
            continue
        candidate = LastPromoted(
            pipeline=p["metadata"]["name"],
            run=str((p.get("spec") or {}).get("runId", "")),
            time=st.completion_time,
            win_rate=st.promotion.win_rate,
        )
        if found is None or (candidate.time or "") > (found.time or ""):
            found = candidate
    return found


def act(ctx: Context, schedule: AlignmentSchedule, decided: SchedulePlan, uid: str) -> list[Event]:
    """Delete the pipelines the plan lets go, then create the one due; the Events of both."""
    namespace, name = schedule.metadata.namespace or "", schedule.metadata.name
    events: list[Event] = []
    for victim in decided.delete:
        ctx.kube.delete(custom_ref(PIPELINES, namespace, victim))
        events.append(Event("DeletedPipeline", f"deleted {victim}"))
    if decided.create is not None:
        pipeline = pipeline_for_firing(schedule, decided.create)
        created = pipeline.to_dict()
        created["metadata"]["ownerReferences"] = [owner_reference(GROUP_VERSION, SCHEDULE_KIND, name, uid)]
        with contextlib.suppress(Conflict):
            ctx.seen(
                PIPELINES, ctx.kube.create(custom_ref(PIPELINES, namespace, pipeline.metadata.name), created)
            )
        events.append(
            Event("CreatedPipeline", f"created {pipeline.metadata.name} for {rfc3339(decided.create)}")
        )
    return events


def schedule_status(
    schedule: AlignmentSchedule,
    body: Obj,
    old: AlignmentScheduleStatus | None,
    decided: SchedulePlan,
    now: str,
) -> AlignmentScheduleStatus:
    """The status once ``decided`` is carried out."""
    generation = body["metadata"].get("generation")
    suspend = schedule.spec.suspend
    conditions = set_conditions(
        old.conditions if old else [],
        [
            ("Valid", True, "SpecValid", ""),
            ("Suspended", suspend, "Suspended" if suspend else "NotSuspended", ""),
        ],
        now=now,
        generation=generation,
    )
    active = list(decided.active)
    if decided.create is not None:
        active.append(pipeline_for_firing(schedule, decided.create).metadata.name)
    # the planner knows the successes it sees; one deleted by the history limit was still a success
    known = parse_rfc3339(old.last_successful_time if old else None)
    last_ok = max((t for t in (decided.last_successful_time, known) if t), default=None)
    return AlignmentScheduleStatus(
        observed_generation=generation,
        conditions=conditions,
        active=active,
        last_schedule_time=rfc3339(decided.last_schedule_time) if decided.last_schedule_time else None,
        last_successful_time=rfc3339(last_ok) if last_ok else None,
        next_schedule_time=rfc3339(decided.next_time) if decided.next_time else None,
    )
