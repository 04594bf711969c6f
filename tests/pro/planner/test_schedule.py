"""Table-driven tests of the schedule planner: firings, deadlines, concurrency, history, suspend, zones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pro.planner.schedule import (
    ChildPipeline,
    ScheduleObserved,
    SchedulePlan,
    pipeline_for_firing,
    pipeline_name,
    plan_schedule,
)
from pro.spec.conventions import SCHEDULE_LABEL, SCHEDULED_AT
from pro.spec.schedule import AlignmentSchedule, AlignmentScheduleSpec

pytestmark = pytest.mark.unit


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _pipeline_spec() -> dict[str, object]:
    with open(Path(__file__).resolve().parents[3] / "examples/toy/pipeline.yaml", encoding="utf-8") as f:
        spec: dict[str, object] = yaml.safe_load(f)["spec"]
    return spec


PIPELINE_SPEC = _pipeline_spec()


def spec(**fields: object) -> AlignmentScheduleSpec:
    return AlignmentScheduleSpec.model_validate(
        {"schedule": "0 * * * *", **fields, "pipelineTemplate": {"spec": PIPELINE_SPEC}}
    )


def child(name: str, scheduled: str, phase: str = "Running", finished: str | None = None) -> ChildPipeline:
    return ChildPipeline(name, utc(scheduled), phase, utc(finished) if finished else None)


def observed(
    last: str | None, *children: ChildPipeline, created: str = "2026-11-20T00:00"
) -> ScheduleObserved:
    return ScheduleObserved(utc(created), utc(last) if last else None, children)


RUNNING = child("s-1", "2026-11-26T11:00")


@dataclass(frozen=True)
class Case:
    name: str
    seen: ScheduleObserved
    now: str
    create: str | None
    next_time: str | None
    fields: dict[str, object] = field(default_factory=dict)
    skip: str | None = None
    delete: tuple[str, ...] = ()


H12, H13 = "2026-11-26T12:00", "2026-11-26T13:00"
BERLIN = {"timeZone": "Europe/Berlin"}
CASES = [
    Case("first firing after creation", observed(None, created="2026-11-26T11:30"), H12, H12, H13),
    Case("nothing due yet", observed(H12), "2026-11-26T12:59:59", None, H13),
    Case(
        "created after the firing",
        observed(None, created="2026-11-26T12:00:01"),
        "2026-11-26T12:30",
        None,
        H13,
    ),
    Case("missed firings: only the most recent", observed("2026-11-26T08:00"), "2026-11-26T12:10", H12, H13),
    Case(
        "late but within the deadline",
        observed("2026-11-26T08:00"),
        "2026-11-26T12:10",
        H12,
        H13,
        {"startingDeadlineSeconds": 900},
    ),
    Case(
        "deadline exceeded",
        observed("2026-11-26T08:00"),
        "2026-11-26T12:10",
        None,
        H13,
        {"startingDeadlineSeconds": 300},
        skip="DeadlineExceeded",
    ),
    Case(
        "deadline 0: on time only",
        observed("2026-11-26T11:00"),
        H12,
        H12,
        H13,
        {"startingDeadlineSeconds": 0},
    ),
    Case(
        "Forbid with one running",
        observed("2026-11-26T11:00", RUNNING),
        H12,
        None,
        H13,
        {"concurrencyPolicy": "Forbid"},
        skip="ConcurrencyForbidden",
    ),
    Case(
        "Allow with one running",
        observed("2026-11-26T11:00", RUNNING),
        H12,
        H12,
        H13,
        {"concurrencyPolicy": "Allow"},
    ),
    Case(
        "Replace with one running",
        observed("2026-11-26T11:00", RUNNING),
        H12,
        H12,
        H13,
        {"concurrencyPolicy": "Replace"},
        delete=("s-1",),
    ),
    Case(
        "Forbid after the running one finished",
        observed("2026-11-26T11:00", child("s-1", "2026-11-26T11:00", "Succeeded", "2026-11-26T11:50")),
        H12,
        H12,
        H13,
        {"concurrencyPolicy": "Forbid"},
    ),
    Case(
        "suspended",
        observed("2026-11-26T08:00"),
        "2026-11-26T12:10",
        None,
        None,
        {"suspend": True},
        skip="Suspended",
    ),
    Case(
        "daily in Berlin: 03:00 CET is 02:00Z",
        observed("2026-11-25T02:00"),
        "2026-11-26T02:00:30",
        "2026-11-26T02:00",
        "2026-11-27T02:00",
        {"schedule": "0 3 * * *", **BERLIN},
    ),
    Case(
        "daily in New York, not yet",
        observed("2026-11-25T08:00"),
        "2026-11-26T07:59",
        None,
        "2026-11-26T08:00",
        {"schedule": "0 3 * * *", "timeZone": "America/New_York"},
    ),
    Case(
        "Berlin spring forward: 02:30 does not exist",
        observed("2026-03-28T01:30"),
        "2026-03-29T12:00",
        None,
        "2026-03-30T00:30",
        {"schedule": "30 2 * * *", **BERLIN},
    ),
    Case(
        "Berlin fall back: 02:30 fires once",
        observed("2026-10-25T00:30"),
        "2026-10-25T01:45",
        None,
        "2026-10-26T01:30",
        {"schedule": "30 2 * * *", **BERLIN},
    ),
    Case(
        "yearly after a long outage",
        observed("2020-01-01T00:00"),
        "2026-11-26T12:00",
        "2026-01-01T00:00",
        "2027-01-01T00:00",
        {"schedule": "@yearly"},
    ),
    Case(
        "every minute after a year down",
        observed("2025-11-26T00:00"),
        "2026-11-26T12:00:30",
        H12,
        "2026-11-26T12:01",
        {"schedule": "* * * * *"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_schedule(case: Case) -> None:
    plan = plan_schedule(spec(**case.fields), case.seen, utc(case.now))
    assert plan.create == (utc(case.create) if case.create else None)
    assert (plan.skipped.reason if plan.skipped else None) == case.skip
    assert plan.delete == case.delete
    assert plan.next_time == (utc(case.next_time) if case.next_time else None)
    if case.create:
        assert plan.last_schedule_time == utc(case.create)


def test_skip_messages_say_why() -> None:
    plan = plan_schedule(
        spec(startingDeadlineSeconds=300), observed("2026-11-26T08:00"), utc("2026-11-26T12:10")
    )
    assert plan.skipped is not None
    assert plan.skipped.message == (
        "missed the firing at 2026-11-26T12:00:00Z by more than startingDeadlineSeconds (300)"
    )
    plan = plan_schedule(spec(), observed("2026-11-26T11:00", RUNNING), utc("2026-11-26T12:00"))
    assert plan.skipped is not None and "s-1 still running" in plan.skipped.message
    assert plan.last_schedule_time == utc("2026-11-26T11:00")  # not advanced: retried when s-1 ends


def test_active_lists_unfinished_pipelines_left_after_the_plan() -> None:
    done = child("s-0", "2026-11-26T10:00", "Failed", "2026-11-26T10:30")
    seen = observed("2026-11-26T11:00", RUNNING, done, child("s-2", "2026-11-26T11:30", "Suspended"))
    assert plan_schedule(spec(concurrencyPolicy="Allow"), seen, utc("2026-11-26T12:00")).active == (
        "s-1",
        "s-2",
    )
    assert plan_schedule(spec(concurrencyPolicy="Replace"), seen, utc("2026-11-26T12:00")).active == ()


def test_a_firing_already_created_is_recorded_not_created_again() -> None:
    seen = observed("2026-11-26T11:00", child("s-12", "2026-11-26T12:00"))
    plan = plan_schedule(spec(concurrencyPolicy="Replace"), seen, utc("2026-11-26T12:00:10"))
    assert plan == SchedulePlan(
        create=None,
        delete=(),
        skipped=None,
        next_time=utc("2026-11-26T13:00"),
        active=("s-12",),
        last_schedule_time=utc("2026-11-26T12:00"),
        last_successful_time=None,
    )


def test_history_limits_delete_the_oldest_first() -> None:
    ok = [child(f"ok-{i}", f"2026-11-26T0{i}:00", "Succeeded", f"2026-11-26T0{i}:30") for i in range(5)]
    bad = [
        child("bad-0", "2026-11-25T01:00", "Failed", "2026-11-25T02:00"),
        child("bad-2", "2026-11-25T03:00", "Invalid", "2026-11-25T03:00"),
        child("bad-1", "2026-11-25T02:00", "Failed", "2026-11-25T02:30"),
    ]
    seen = observed("2026-11-26T11:00", *reversed(ok), *bad)
    fields = {"successfulPipelinesHistoryLimit": 3, "failedPipelinesHistoryLimit": 1}
    plan = plan_schedule(spec(**fields), seen, utc("2026-11-26T11:30"))
    assert plan.delete == ("ok-0", "ok-1", "bad-0", "bad-1")
    assert plan.last_successful_time == utc("2026-11-26T04:30")
    # suspended schedules still trim their history; limits of 0 keep nothing
    plan = plan_schedule(
        spec(suspend=True, successfulPipelinesHistoryLimit=0, failedPipelinesHistoryLimit=0),
        seen,
        utc("2026-11-26T11:30"),
    )
    assert plan.delete == ("ok-0", "ok-1", "ok-2", "ok-3", "ok-4", "bad-0", "bad-1", "bad-2")
    # Replace deletes the running one first, then history
    plan = plan_schedule(
        spec(concurrencyPolicy="Replace", **fields),
        observed("2026-11-26T11:00", RUNNING, *ok),
        utc("2026-11-26T12:00"),
    )
    assert plan.delete == ("s-1", "ok-0", "ok-1")


def test_planner_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_schedule(spec(), observed(None), datetime(2026, 1, 1))


def schedule(name: str = "nightly", namespace: str | None = "ml") -> AlignmentSchedule:
    return AlignmentSchedule.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "a"}},
            "spec": {
                "schedule": "0 3 * * *",
                "pipelineTemplate": {
                    "metadata": {"labels": {"tier": "nightly"}, "annotations": {"owner": "ml"}},
                    "spec": PIPELINE_SPEC,
                },
            },
        }
    )


def test_pipeline_for_firing() -> None:
    at = utc("2026-11-26T03:00")
    minutes = int(at.timestamp()) // 60
    p = pipeline_for_firing(schedule(), at)
    assert p.metadata.name == f"nightly-{minutes}"
    assert p.metadata.namespace == "ml"
    assert p.metadata.labels == {"tier": "nightly", SCHEDULE_LABEL: "nightly"}
    assert p.metadata.annotations == {"owner": "ml", SCHEDULED_AT: "2026-11-26T03:00:00Z"}
    assert p.spec.run_id == f"t{minutes}"
    assert p.spec.objective_names == ["helpfulness", "harmlessness", "humor"]
    # a different firing: a different name and a fresh runId
    q = pipeline_for_firing(schedule(), utc("2026-11-27T03:00"))
    assert q.metadata.name != p.metadata.name and q.spec.run_id != p.spec.run_id


def test_long_schedule_names_are_shortened_to_a_dns_label() -> None:
    at = utc("2026-11-26T03:00")
    a, b = "a" * 60 + "-x", "a" * 60 + "-y"
    na, nb = pipeline_name(a, at), pipeline_name(b, at)
    assert len(na) <= 63 and len(nb) <= 63 and na != nb
    assert na.endswith(f"-{int(at.timestamp()) // 60}")
    assert pipeline_for_firing(schedule(a), at).metadata.name == na  # a valid ObjectMeta name
    assert pipeline_name("short", at) == f"short-{int(at.timestamp()) // 60}"
