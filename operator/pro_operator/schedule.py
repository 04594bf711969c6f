"""The schedule controller: an AlignmentSchedule creates AlignmentPipelines on its cron schedule (what a
CronJob does for Jobs), through the pure schedule planner; time comes from :mod:`pro_operator.clock`."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pro.planner.schedule import (
    ChildPipeline,
    ScheduleObserved,
    pipeline_for_firing,
    plan_schedule,
)
from pro.render.jobs import owner_reference
from pro.spec import SpecError
from pro.spec.conventions import GROUP_VERSION, SCHEDULE_LABEL, SCHEDULED_AT, parse_rfc3339, rfc3339
from pro.spec.kinds import PIPELINE_KIND, SCHEDULE_KIND, kind_named
from pro_operator import clock
from pro_operator.conditions import set_condition
from pro_operator.context import Context
from pro_operator.kube import Conflict, custom_ref
from pro_operator.stage import _write, parsed, record_invalid

Obj = dict[str, Any]
PLURAL = kind_named(SCHEDULE_KIND).plural
PIPELINES = kind_named(PIPELINE_KIND).plural


def reconcile_schedule(ctx: Context, namespace: str, name: str) -> datetime | None:
    """One pass of the schedule controller; returns when the next firing is due."""
    body = ctx.cache.get(PLURAL, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    meta = body["metadata"]
    generation, uid = meta.get("generation"), meta.get("uid", "")
    old: Obj = body.get("status") or {}
    now = clock.now()
    stamp = rfc3339(now)
    ref = custom_ref(PLURAL, namespace, name)
    try:
        schedule = parsed(ctx, SCHEDULE_KIND, body)
    except SpecError as err:
        record_invalid(ctx, body, ref, old, err, condition="Valid", status={}, now=stamp)
        return None
    schedule = schedule.model_copy(
        update={"metadata": schedule.metadata.model_copy(update={"namespace": namespace})}
    )

    children = []
    for p in ctx.cache.by_label(PIPELINES, namespace, SCHEDULE_LABEL, name):
        if not any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or []):
            continue
        st = p.get("status") or {}
        children.append(
            ChildPipeline(
                p["metadata"]["name"],
                parse_rfc3339((p["metadata"].get("annotations") or {}).get(SCHEDULED_AT)),
                st.get("phase", "Pending"),
                parse_rfc3339(st.get("completionTime")),
            )
        )
    observed = ScheduleObserved(
        created=parse_rfc3339(meta.get("creationTimestamp")) or now,
        last_schedule_time=parse_rfc3339(old.get("lastScheduleTime")),
        children=tuple(children),
    )
    decided = plan_schedule(schedule.spec, observed, now)
    events: list[tuple[str, str, bool]] = []
    for victim in decided.delete:
        ctx.kube.delete(custom_ref(PIPELINES, namespace, victim))
        events.append(("DeletedPipeline", f"deleted {victim}", False))
    if decided.create is not None:
        pipeline = pipeline_for_firing(schedule, decided.create)
        created = pipeline.to_dict()
        created["metadata"]["ownerReferences"] = [owner_reference(GROUP_VERSION, SCHEDULE_KIND, name, uid)]
        with contextlib.suppress(Conflict):
            ctx.seen(
                PIPELINES, ctx.kube.create(custom_ref(PIPELINES, namespace, pipeline.metadata.name), created)
            )
        events.append(
            (
                "CreatedPipeline",
                f"created {pipeline.metadata.name} for {rfc3339(decided.create)}",
                False,
            )
        )
    elif decided.skipped is not None and old.get("nextScheduleTime") != (
        rfc3339(decided.next_time) if decided.next_time else None
    ):  # once per firing, not on every reconcile
        events.append((decided.skipped.reason, decided.skipped.message, False))
    conds = set_condition(
        old.get("conditions", []), "Valid", True, "SpecValid", "", now=stamp, generation=generation
    )
    conds = set_condition(
        conds,
        "Suspended",
        schedule.spec.suspend,
        "Suspended" if schedule.spec.suspend else "NotSuspended",
        "",
        now=stamp,
        generation=generation,
    )
    active = list(decided.active)
    if decided.create is not None:
        active.append(pipeline_for_firing(schedule, decided.create).metadata.name)
    # the planner knows the successes it sees; one deleted by the history limit was still a success
    last_ok = max(
        (t for t in (decided.last_successful_time, parse_rfc3339(old.get("lastSuccessfulTime"))) if t),
        default=None,
    )
    status = {
        "observedGeneration": generation,
        "conditions": conds,
        "active": active,
        "lastScheduleTime": rfc3339(decided.last_schedule_time) if decided.last_schedule_time else None,
        "lastSuccessfulTime": rfc3339(last_ok) if last_ok else None,
        "nextScheduleTime": rfc3339(decided.next_time) if decided.next_time else None,
    }
    _write(ctx, body, ref, old, status, events=events, now=stamp)
    return decided.next_time
