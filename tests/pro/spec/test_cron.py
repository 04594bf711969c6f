"""Cron parsing and next firings: fields, names, macros, the day-of-month/day-of-week rule, time zones, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pro.spec import SpecError, load_text
from pro.spec.cron import CronError, parse_cron
from pro.spec.schedule import AlignmentSchedule

pytestmark = pytest.mark.unit


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "tz", "after", "expected"),
    [
        # fields, steps, lists, ranges
        ("* * * * *", None, "2026-11-26T12:00:30", "2026-11-26T12:01"),
        ("*/15 * * * *", None, "2026-11-26T12:07", "2026-11-26T12:15"),
        ("*/15 * * * *", None, "2026-11-26T12:15", "2026-11-26T12:30"),  # strictly after
        ("5/20 * * * *", None, "2026-11-26T12:26", "2026-11-26T12:45"),  # 5/20 = 5-59/20
        ("0 1-5/2 * * *", None, "2026-11-26T03:00", "2026-11-26T05:00"),
        ("0 1-5/2 * * *", None, "2026-11-26T05:00", "2026-11-27T01:00"),
        ("10,40 8,20 * * *", None, "2026-11-26T08:40", "2026-11-26T20:10"),
        # names and 7 = Sunday (2026-11-26 is a Thursday)
        ("0 0 1 JAN *", None, "2026-11-26T00:00", "2027-01-01T00:00"),
        ("0 0 * * sun", None, "2026-11-26T00:00", "2026-11-29T00:00"),
        ("0 0 * * 7", None, "2026-11-26T00:00", "2026-11-29T00:00"),
        ("0 9 * * MON-FRI", None, "2026-11-27T10:00", "2026-11-30T09:00"),
        # macros
        ("@hourly", None, "2026-11-26T12:00", "2026-11-26T13:00"),
        ("@daily", None, "2026-11-26T12:00", "2026-11-27T00:00"),
        ("@midnight", None, "2026-11-26T12:00", "2026-11-27T00:00"),
        ("@weekly", None, "2026-11-26T12:00", "2026-11-29T00:00"),
        ("@monthly", None, "2026-11-26T12:00", "2026-12-01T00:00"),
        ("@yearly", None, "2026-11-26T12:00", "2027-01-01T00:00"),
        ("@annually", None, "2026-11-26T12:00", "2027-01-01T00:00"),
        # day of month OR day of week when both are restricted; AND when one is '*'
        ("0 0 13 * FRI", None, "2026-01-01T00:00", "2026-01-02T00:00"),
        ("0 0 13 * *", None, "2026-01-01T00:00", "2026-01-13T00:00"),
        ("0 0 * * FRI", None, "2026-01-03T00:00", "2026-01-09T00:00"),
        ("0 0 13 * ?", None, "2026-01-01T00:00", "2026-01-13T00:00"),
        ("0 0 29 2 *", None, "2026-03-01T00:00", "2028-02-29T00:00"),
        # time zones: the wall clock of the zone
        ("0 9 * * *", "America/New_York", "2026-11-26T00:00", "2026-11-26T14:00"),
        ("0 9 * * *", "America/New_York", "2026-07-01T00:00", "2026-07-01T13:00"),
        ("0 3 * * *", "Asia/Kolkata", "2026-01-01T00:00", "2026-01-01T21:30"),
        ("0 0 * * MON", "Pacific/Auckland", "2026-11-26T00:00", "2026-11-29T11:00"),
        # Europe/Berlin, spring forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that day
        ("30 2 * * *", "Europe/Berlin", "2026-03-28T02:00", "2026-03-30T00:30"),
        ("0 * * * *", "Europe/Berlin", "2026-03-29T00:30", "2026-03-29T01:00"),  # 03:00 CEST
        ("0 3 * * *", "Europe/Berlin", "2026-03-28T12:00", "2026-03-29T01:00"),
        # fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice and fires once (the first)
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00", "2026-10-25T00:30"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30", "2026-10-26T01:30"),
        ("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:30", "2026-10-25T02:00"),
        ("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:10", "2026-10-25T02:00"),  # inside the 2nd pass
    ],
)
def test_next_after(expr: str, tz: str | None, after: str, expected: str) -> None:
    got = parse_cron(expr).next_after(utc(after), tz)
    assert got == utc(expected)
    assert got.tzinfo is UTC


def test_next_after_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_cron("* * * * *").next_after(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "minute: 61 is out of range 0-59"),
        ("* 24 * * *", "hour: 24 is out of range 0-23"),
        ("* * 0 * *", "day of month: 0 is out of range 1-31"),
        ("* * * 13 *", "month: 13 is out of range 1-12"),
        ("* * * * 8", "day of week: 8 is out of range 0-7"),
        ("* * * FOO *", "month: 'FOO' is not a number or a name"),
        ("x * * * *", "minute: 'x' is not a number$"),
        ("* * * *", "expected 5 fields .* got 4"),
        ("0 0 * * * *", "expected 5 fields .* got 6"),
        ("*/0 * * * *", "minute: step '0' is not a positive number"),
        ("5-1 * * * *", "minute: range '5-1' runs backwards"),
        ("1,,2 * * * *", "minute: empty list item"),
        ("@every 5m", "unknown macro '@every 5m'"),
        ("0 0 30 2 *", "day of month: .* never fires"),
        ("TZ=UTC 0 * * * *", "set timeZone instead"),
    ],
)
def test_bad_expressions_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expr)


def schedule_doc(**spec: object) -> str:
    with open(Path(__file__).resolve().parents[3] / "examples/toy/pipeline.yaml", encoding="utf-8") as f:
        pipeline = yaml.safe_load(f)
    body = {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": "AlignmentSchedule",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", **spec, "pipelineTemplate": {"spec": pipeline["spec"]}},
    }
    return yaml.safe_dump(body, sort_keys=False)


def test_schedule_spec_accepts_a_valid_schedule() -> None:
    from pro.spec.loader import parse

    s = parse(AlignmentSchedule, load_text(schedule_doc(timeZone="Europe/Berlin"), "als.yaml"))
    assert s.spec.time_zone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"schedule": "0 25 * * *"}, "als.yaml:6: spec.schedule: hour: 25 is out of range 0-23"),
        ({"timeZone": "Mars/Olympus"}, "spec.timeZone: unknown time zone 'Mars/Olympus'"),
        ({"timeZone": "../etc/passwd"}, "spec.timeZone: unknown time zone"),
    ],
)
def test_schedule_spec_rejects_bad_cron_and_zone(spec: dict[str, str], problem: str) -> None:
    from pro.spec.loader import parse

    with pytest.raises(SpecError) as err:
        parse(AlignmentSchedule, load_text(schedule_doc(**spec), "als.yaml"))
    assert problem in str(err.value)
