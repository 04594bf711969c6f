"""Scheduled alignment through the real operator (issue #15's story): weekly data drops in S3 selected by
``{{latestComplete}}``, a schedule on an injected clock, work reused across firings (counted in
PyTorchJobs), alignments warm-started from the promoted policy, the promotion gate moving ``promoted.json``
or leaving it byte-identical, a drop without its completion marker never selected, an object rewritten after
it was pinned failing its stage by name, and no credential in any status, Event or log.  The operator runs
under the chart's Roles only (a token of its ServiceAccount, leader election on its Lease): the whole
pipeline as PyTorchJobs, and the schedules, with nothing refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from pro.testing.operator import Cluster
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc
from tests.pro_operator.conftest import finished, refusals

pytestmark = pytest.mark.integration

ALS, ALPS, ALIGNS = "alignmentschedules", "alignmentpipelines", "policyalignments"
OBJECTIVES = ("helpfulness", "harmlessness", "humor")
#: a secret no message may echo (the moto server accepts any key pair)
SECRET = "pro-test-secret-9f27c1"


@pytest.fixture
def operator_rbac() -> str:
    return "chart"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    return tmp_path / "clock"


@pytest.fixture
def s3_env(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return {**s3_env, "AWS_SECRET_ACCESS_KEY": SECRET}


@pytest.fixture
def operator_env(clock_file: Path) -> dict[str, str]:
    return {"PRO_OPERATOR_CLOCK_FILE": str(clock_file)}


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Drops:
    """Weekly preference drops in the bucket, each marked complete (``_SUCCESS``) when asked."""

    def __init__(self, cluster: Cluster, toy: Path, env: dict[str, str]) -> None:
        self.s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        self.bucket, self.toy = cluster.bucket, toy

    def put(self, day: str, *, humor_rows: int | None = None, complete: bool = True) -> None:
        for o in OBJECTIVES:
            lines = (self.toy / "pairs" / f"{o}.jsonl").read_text().splitlines(keepends=True)
            if o == "humor" and humor_rows is not None:
                lines = lines[:humor_rows]
            self.s3.put_object(Bucket=self.bucket, Key=f"prefs/{day}/{o}.jsonl", Body="".join(lines).encode())
        if complete:
            self.s3.put_object(Bucket=self.bucket, Key=f"prefs/{day}/_SUCCESS", Body=b"")

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def template(
    cluster: Cluster, toy: Path, *, init_steps: int, init_lr: float, warm_start: bool
) -> dict[str, Any]:
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", MINIMAL, name="template")
    spec = doc["spec"]
    for obj in spec["objectives"]:
        obj["data"]["path"] = f"s3://{cluster.bucket}/prefs/{{{{latestComplete}}}}/{obj['name']}.jsonl"
    spec["alignment"]["init"] |= {"steps": init_steps, "learningRate": init_lr, "batchSize": 32}
    spec["evaluation"]["maxPrompts"] = 32
    spec["promotion"] = {"rule": {"minWinRate": 0.5}, "warmStart": warm_start}
    spec["retry"] = {"limit": 0, "backoffSeconds": 1}
    return spec


def test_a_weekly_schedule_reuses_work_gates_its_policy_and_never_reads_a_half_written_drop(
    cluster: Cluster, toy: Path, clock_file: Path, s3_env: dict[str, str]
) -> None:
    drops = Drops(cluster, toy, s3_env)
    drops.put("2026-11-30")
    drops.put("2026-12-14", humor_rows=10, complete=False)  # newer, still being written: never selected
    if time.time() % 60 > 50:  # the schedule is created before the first firing's minute
        time.sleep(61 - time.time() % 60)
    t0 = datetime.fromtimestamp((int(time.time()) // 60 + 1) * 60, UTC)
    good = template(cluster, toy, init_steps=150, init_lr=0.003, warm_start=True)
    clock_file.write_text(rfc3339(t0 - timedelta(seconds=30)))
    cluster.create(ALS, {
        "apiVersion": "pro.alignment.dev/v1alpha1", "kind": "AlignmentSchedule",
        "metadata": {"name": "weekly", "namespace": cluster.namespace},
        "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                 "pipelineTemplate": {"spec": good}},
    })  # fmt: skip
    pointer_key = f"pro/{cluster.namespace}/weekly/promoted.json"

    def fire(minute: int) -> dict[str, Any]:
        """Move the clock to the firing, wait for its pipeline to finish; its status and the new jobs."""
        at = t0 + timedelta(minutes=minute)
        before = {j["metadata"]["name"] for j in cluster.jobs()}
        clock_file.write_text(rfc3339(at))
        cluster.touch(ALS, "weekly")
        name = f"weekly-{int(at.timestamp()) // 60}"
        cluster.wait(
            f"pipeline {name}", lambda: any(p["metadata"]["name"] == name for p in cluster.list(ALPS)), 60
        )
        cluster.wait(f"{name} to finish", lambda: finished(cluster, ALPS, name), 900)
        status: dict[str, Any] = cluster.get(ALPS, name)["status"]
        assert status["phase"] == "Succeeded", status
        status["newJobs"] = sorted(
            j["metadata"]["labels"]["pro.alignment.dev/stage-resource"].removeprefix(f"{name}-")
            for j in cluster.jobs()
            if j["metadata"]["name"] not in before
        )
        status["name"] = name
        return status

    # firing 1: the only complete drop; everything trains; nothing promoted yet → the own baseline decides
    first = fire(0)
    assert first["data"]["selected"] == [f"s3://{cluster.bucket}/prefs/2026-11-30/"]
    assert first["data"]["references"] == 3 and first["data"]["objects"] == 3
    assert first["newJobs"] == sorted(
        ["rm-helpfulness", "rm-harmlessness", "rm-humor", "adapter", "align", "align-baseline", "eval"]
    )
    assert first["promotion"]["decision"] == "Promoted", first["promotion"]
    assert "Promoted" in dict(cluster.events(first["name"]))
    pointer = json.loads(drops.read(pointer_key))
    assert pointer["run"] == first["name"].replace("weekly-", "t")
    cluster.wait(
        "lastPromoted", lambda: (cluster.get(ALS, "weekly").get("status") or {}).get("lastPromoted"), 30
    )

    # firing 2: a new complete drop where only humor changed: its reward model and its dependants run
    drops.put("2026-12-07", humor_rows=100)
    second = fire(1)
    assert second["data"]["selected"] == [f"s3://{cluster.bucket}/prefs/2026-12-07/"]
    assert second["newJobs"] == sorted(["rm-humor", "adapter", "align", "align-baseline", "eval"])
    reused = {s["name"]: s.get("reusedFrom") for s in second["stages"]}
    assert reused["rm-helpfulness"] == reused["rm-harmlessness"] == first["name"].replace("weekly-", "t")
    assert second["promotion"]["baseline"] == pointer["policy"]  # gated against the promoted policy
    for stage in ("align", "align-baseline"):  # promotion.warmStart: both start from the promoted policy
        spec = cluster.get(ALIGNS, f"{second['name']}-{stage}")["spec"]
        assert spec["policy"] == {"name": pointer["policy"]} and "init" not in spec, spec
    before = drops.read(pointer_key)

    # firing 3: a broken alignment (no warm start, no real SFT start) is rejected and the pointer stays
    # byte for byte
    broken = template(cluster, toy, init_steps=1, init_lr=1e-6, warm_start=False)
    patch = {key: broken[key] for key in ("alignment", "promotion")}
    cluster.patch(ALS, "weekly", {"spec": {"pipelineTemplate": {"spec": patch}}})
    third = fire(2)
    assert third["newJobs"] == sorted(["align", "align-baseline", "eval"])
    assert third["promotion"]["decision"] == "Rejected", third["promotion"]
    assert dict(cluster.events(third["name"], warnings=True))["PromotionRejected"].startswith("win rate")
    assert drops.read(pointer_key) == before

    # no credential anywhere a user or another tenant can read
    texts = [json.dumps(cluster.get(ALPS, s["name"])) for s in (first, second, third)]
    texts += [json.dumps(cluster.get(ALS, "weekly")), json.dumps(cluster.events(first["name"]))]
    texts += [cluster.operator.log.read_text(), *(p.read_text() for p in cluster.workdir.rglob("*.log"))]
    assert not [t for t in texts if SECRET in t]
    # every stage of every firing a PyTorchJob, under the chart's Roles, nothing refused
    assert {j["kind"] for j in cluster.jobs()} == {"PyTorchJob"} and len(cluster.jobs()) == 15
    assert refusals(cluster) == []


def test_an_object_rewritten_after_the_run_pinned_it_fails_its_stage_naming_it(
    cluster: Cluster, toy: Path, s3_env: dict[str, str]
) -> None:
    drops = Drops(cluster, toy, s3_env)
    drops.put("2026-11-30")
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", MINIMAL, name="pinned")
    doc["metadata"]["namespace"] = cluster.namespace
    spec = doc["spec"]
    del spec["adapter"], spec["evaluation"]
    spec["alignment"]["weights"] = {"mode": "uniform"}
    spec["objectives"] = spec["objectives"][2:]  # humor only
    spec["objectives"][0]["data"]["path"] = f"s3://{cluster.bucket}/prefs/2026-11-30/humor.jsonl"
    spec["retry"] = {"limit": 0, "backoffSeconds": 1}
    spec["suspend"] = True  # pinned when it starts, but nothing runs yet
    cluster.create(ALPS, doc)
    cluster.wait("the data pinned", lambda: (cluster.get(ALPS, "pinned").get("status") or {}).get("data"), 60)
    drops.s3.put_object(
        Bucket=cluster.bucket, Key="prefs/2026-11-30/humor.jsonl", Body=b'{"prompt": "new"}\n'
    )
    cluster.patch(ALPS, "pinned", {"spec": {"suspend": False}})
    cluster.wait("the stage to fail", lambda: finished(cluster, ALPS, "pinned"), 300)
    status = cluster.get(ALPS, "pinned")["status"]
    rm = next(s for s in status["stages"] if s["name"] == "rm-humor")
    assert status["phase"] == "Failed" and rm["phase"] == "Failed", status
    assert (
        f"s3://{cluster.bucket}/prefs/2026-11-30/humor.jsonl: rewritten after the run pinned it"
        in rm["message"]
    )
