"""Placeholders and data references are checked where the spec is read (``pro validate``), filled purely."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pro.spec import SpecError, load_text, parse
from pro.spec.data import DataSource
from pro.spec.placeholders import PlaceholderError, check, fill_time, split_latest
from pro.spec.stages import RewardModelTraining

pytestmark = pytest.mark.unit


def test_scheduled_time_is_filled_in_utc() -> None:
    ref = "s3://b/prefs/{{scheduledTime:%Y-%m-%d}}/h-{{ scheduledTime:%H%M }}.jsonl"
    check(ref)
    local = datetime(2026, 12, 7, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2026-12-06 23:30 UTC
    assert fill_time(ref, local) == "s3://b/prefs/2026-12-06/h-2330.jsonl"
    assert (
        fill_time("s3://b/{{latestComplete}}/x", datetime(2026, 1, 1, tzinfo=UTC))
        == "s3://b/{{latestComplete}}/x"
    )
    assert split_latest("s3://b/p/{{latestComplete}}/x.jsonl") == ("s3://b/p/", "/x.jsonl")
    assert split_latest("s3://b/p/x.jsonl") is None


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "s3://b/{{date}}/x.jsonl",
            r"unknown placeholder \{\{date\}\} \(known: scheduledTime, latestComplete\)",
        ),
        ("s3://b/{{scheduledTime}}/x.jsonl", r"\{\{scheduledTime\}\} needs a format"),
        ("s3://b/{{scheduledTime:%Q}}/", r"'%Q' is not a supported strftime directive"),
        ("s3://b/{{scheduledTime:%Y/%m}}/", r"the format may not contain '/'"),
        ("s3://b/{{scheduledTime:%Y}/x", r"unclosed or malformed placeholder"),
        ("s3://b/x{{latestComplete}}/", r"must be a whole path segment"),
        ("s3://b/{{latestComplete}}/{{latestComplete}}/", r"may appear once"),
        ("s3://b/{{latestComplete:%Y}}/", r"takes no format"),
    ],
)
def test_bad_placeholders_say_what_is_wrong(ref: str, message: str) -> None:
    with pytest.raises(PlaceholderError, match=message):
        check(ref)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("file://relative/x.jsonl", "a file URI needs an absolute path"),
        ("s3:///x.jsonl", "no bucket name"),
        ("gs://b/x.jsonl", "unsupported scheme 'gs'"),
        ("s3://b/{{when:%Y}}/", r"unknown placeholder \{\{when\}\}"),
    ],
)
def test_validate_names_the_field_of_a_bad_reference(path: str, message: str) -> None:
    doc = f"""\
apiVersion: pro.alignment.dev/v1alpha1
kind: RewardModelTraining
metadata: {{name: rm}}
spec:
  objective: humor
  data: {{format: jsonl, path: "{path}"}}
  model: {{name: gpt2}}
  output: /tmp/out
"""
    with pytest.raises(SpecError) as err:
        parse(RewardModelTraining, load_text(doc, "rm.yaml"))
    [problem] = err.value.problems
    assert (problem.path, problem.line) == ("spec.data.path", 6)
    assert re.search(message, problem.message), problem.message


def test_a_valid_reference_is_accepted() -> None:
    src = DataSource(format="jsonl", path="s3://team/prefs/{{latestComplete}}/helpfulness/*.jsonl")
    assert src.path is not None and src.path.endswith("*.jsonl")
