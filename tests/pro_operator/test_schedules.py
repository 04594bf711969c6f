"""AlignmentSchedules through the real operator on an injected clock (``PRO_OPERATOR_CLOCK_FILE``): a
firing on time, ``Forbid`` skipping while a pipeline runs, ``Replace`` deleting the running one, and the
history limit deleting the oldest finished pipeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pro.testing.operator import Cluster
from tests.pro_operator.conftest import finished, small_pipeline

pytestmark = pytest.mark.integration

ALS = "alignmentschedules"
ALPS = "alignmentpipelines"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    return tmp_path / "clock"


@pytest.fixture
def operator_env(clock_file: Path) -> dict[str, str]:
    return {"PRO_OPERATOR_CLOCK_FILE": str(clock_file)}


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_schedule_fires_on_its_clock_forbids_replaces_and_keeps_its_history(
    cluster: Cluster, toy: Path, clock_file: Path
) -> None:
    # the clock starts at the real time, the first firing is the next minute boundary (a few seconds
    # after creation at the earliest: creationTimestamp has whole seconds)
    now = time.time()
    if now % 60 > 55:
        time.sleep(61 - now % 60)
        now = time.time()
    t1 = datetime.fromtimestamp((int(now) // 60 + 1) * 60, UTC)
    clock_file.write_text(rfc3339(datetime.fromtimestamp(int(now), UTC)))

    def at(minutes: int) -> datetime:
        t = t1 + timedelta(minutes=minutes)
        clock_file.write_text(rfc3339(t))
        return t

    def name(t: datetime) -> str:
        return f"nightly-{int(t.timestamp()) // 60}"

    def pipelines() -> list[str]:
        return sorted(p["metadata"]["name"] for p in cluster.list(ALPS))

    def status() -> dict[str, Any]:
        return cluster.get(ALS, "nightly").get("status") or {}

    cluster.create(
        ALS,
        {
            "apiVersion": "pro.alignment.dev/v1alpha1",
            "kind": "AlignmentSchedule",
            "metadata": {"name": "nightly", "namespace": cluster.namespace},
            "spec": {
                "schedule": "* * * * *",
                "concurrencyPolicy": "Forbid",
                "successfulPipelinesHistoryLimit": 1,
                "pipelineTemplate": {"spec": small_pipeline(cluster, toy, "template")["spec"]},
            },
        },
    )
    cluster.wait("the schedule reconciled", lambda: status().get("nextScheduleTime") == rfc3339(t1), 30)
    assert pipelines() == [] and "lastScheduleTime" not in status()

    # on time: the clock reaches the firing
    fire1 = at(0)
    cluster.touch(ALS, "nightly")
    cluster.wait("the first pipeline", lambda: pipelines() == [name(fire1)], 30)
    first = cluster.get(ALPS, name(fire1))
    assert first["metadata"]["annotations"]["pro.alignment.dev/scheduled-at"] == rfc3339(fire1)
    assert first["metadata"]["labels"]["pro.alignment.dev/schedule"] == "nightly"
    assert first["metadata"]["ownerReferences"][0]["name"] == "nightly"
    assert first["spec"]["runId"] == f"t{int(fire1.timestamp()) // 60}"
    cluster.wait("the schedule's status", lambda: status().get("lastScheduleTime") == rfc3339(fire1), 30)
    assert status()["active"] == [name(fire1)]

    # Forbid: the next firing finds the first pipeline running and is skipped
    fire2 = at(1)
    assert not finished(cluster, ALPS, name(fire1))
    cluster.touch(ALS, "nightly")
    cluster.wait("the skipped firing", lambda: "ConcurrencyForbidden" in dict(cluster.events("nightly")), 30)
    assert rfc3339(fire2) in dict(cluster.events("nightly"))["ConcurrencyForbidden"]
    assert pipelines() == [name(fire1)] and status()["lastScheduleTime"] == rfc3339(fire1)

    # Replace: the next firing deletes the running pipeline (and, through it, its stages and jobs)
    fire3 = at(2)
    assert not finished(cluster, ALPS, name(fire1))
    cluster.patch(ALS, "nightly", {"spec": {"concurrencyPolicy": "Replace"}})
    cluster.wait("the replacement", lambda: pipelines() == [name(fire3)], 30)
    events = dict(cluster.events_until("nightly", "DeletedPipeline"))
    assert events["DeletedPipeline"] == f"deleted {name(fire1)}", events
    cluster.wait("the replacement to finish", lambda: finished(cluster, ALPS, name(fire3)), 120)
    assert cluster.phase(ALPS, name(fire3)) == "Succeeded"

    # history: one succeeded pipeline is kept, so the next success deletes the older one; the next firing
    # does the same work on the same data, so it reuses every stage the replacement committed
    fire4 = at(3)
    cluster.touch(ALS, "nightly")
    cluster.wait("the next pipeline", lambda: name(fire4) in pipelines(), 30)
    cluster.wait("the oldest success deleted", lambda: pipelines() == [name(fire4)], 120)
    assert cluster.phase(ALPS, name(fire4)) == "Succeeded"
    stages = cluster.get(ALPS, name(fire4))["status"]["stages"]
    assert {s.get("reusedFrom") for s in stages} == {f"t{int(fire3.timestamp()) // 60}"}, stages
    cluster.wait("the schedule's status", lambda: status().get("active") == [], 30)
    st = status()
    assert st["lastScheduleTime"] == rfc3339(fire4) and st["lastSuccessfulTime"] == rfc3339(fire4), st
    assert st["nextScheduleTime"] == rfc3339(fire4 + timedelta(minutes=1)), st

    # the record of the last success outlives the pipeline
    cluster.patch(ALS, "nightly", {"spec": {"successfulPipelinesHistoryLimit": 0}})
    cluster.wait("the history emptied", lambda: pipelines() == [], 30)
    cluster.patch(ALS, "nightly", {"spec": {"suspend": True}})  # a reconcile that sees no pipeline
    cluster.wait("the suspended schedule", lambda: status().get("observedGeneration") == 4, 30)
    st = status()
    assert st["lastSuccessfulTime"] == rfc3339(fire4) and "nextScheduleTime" not in st, st
    assert {c["type"]: c["status"] for c in st["conditions"]}["Suspended"] == "True"
