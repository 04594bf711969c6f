"""What a watch event (or the answer to a write) makes the operator look at, and in which lane."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pro_operator.handlers import Runtime
from pro_operator.workqueue import Lane

pytestmark = pytest.mark.unit

NS = "team"
RMS, ALPS = "rewardmodeltrainings", "alignmentpipelines"
STAGE = (RMS, NS, "p-rm-a")
PIPELINE = (ALPS, NS, "p")


def runtime() -> Runtime:
    return Runtime(cast(Any, None))  # observe() and lane() never call the API


def obj(kind: str, name: str, rv: int, *, phase: str | None = None, **meta: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "resourceVersion": str(rv), "uid": f"uid-{name}", **meta},
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


def stage(rv: int, phase: str | None = None) -> dict[str, Any]:
    return obj("RewardModelTraining", "p-rm-a", rv, phase=phase, labels={"pro.alignment.dev/pipeline": "p"})


def job(rv: int, *conditions: str, controller: bool = True) -> dict[str, Any]:
    body = obj(
        "PyTorchJob",
        "p-rm-a-1",
        rv,
        labels={"pro.alignment.dev/stage-resource": "p-rm-a"},
        ownerReferences=[{"kind": "RewardModelTraining", "name": "p-rm-a", "controller": controller}],
    )
    body["status"] = {"conditions": [{"type": c, "status": "True"} for c in conditions]}
    return body


def test_events_concern_the_object_its_pipeline_or_a_jobs_stage_and_echoes_nothing() -> None:
    rt = runtime()
    assert rt.observe(RMS, {"type": "ADDED", "object": stage(1)}) == [STAGE, PIPELINE]
    assert rt.observe(RMS, {"type": "MODIFIED", "object": stage(2, "Running")}) == [STAGE, PIPELINE]
    assert rt.observe(RMS, {"type": "MODIFIED", "object": stage(2, "Running")}) == []  # the echo
    assert rt.observe(RMS, {"type": "MODIFIED", "object": stage(1)}) == []  # late
    assert rt.cache.phase(*STAGE) == "Running"
    assert rt.observe("pytorchjobs", {"type": "ADDED", "object": job(3, "Created")}) == [STAGE]
    assert rt.observe("pytorchjobs", {"type": "MODIFIED", "object": job(4, "Succeeded")}) == [STAGE]
    # a job some other controller owns is cached but concerns no stage of ours
    assert rt.observe("pytorchjobs", {"type": "MODIFIED", "object": job(5, controller=False)}) == []
    assert rt.observe(RMS, {"type": "DELETED", "object": stage(6, "Running")}) == [STAGE, PIPELINE]
    assert rt.cache.get(*STAGE) is None


def test_a_pipeline_waits_in_the_admission_lane_until_its_first_reconcile() -> None:
    rt = runtime()
    rt.observe(ALPS, {"type": "ADDED", "object": obj("AlignmentPipeline", "p", 1)})
    assert rt.lane(PIPELINE) is Lane.ADMISSION and rt.lane(STAGE) is Lane.PROGRESS
    rt.observe(ALPS, {"type": "MODIFIED", "object": obj("AlignmentPipeline", "p", 2, phase="Running")})
    assert rt.lane(PIPELINE) is Lane.PROGRESS
    rt.observe(ALPS, {"type": "MODIFIED", "object": obj("AlignmentPipeline", "p", 3, phase="Invalid")})
    assert rt.lane(PIPELINE) is Lane.PROGRESS  # reconciled once already: it has a phase
