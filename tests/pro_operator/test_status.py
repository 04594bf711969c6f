"""The controllers' pure parts, without an API server: the typed status each builds from an observation
and a decision, and the Events derived from the old and the new status (the integration tests run the
same code through the real operator)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner import Observed, RunState, StageStatus, decide_stage, plan, started
from pro.runs import resumed
from pro.spec import SpecError
from pro.spec.conventions import rfc3339
from pro.spec.execution import KubernetesSettings, RetrySettings, StageExecution
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.run import RunSnapshot
from pro.spec.status import (
    AlignmentPipelineStatus,
    EvaluationStatus,
    PipelinePhase,
    PromotionStatus,
    StagePhase,
    StageRunStatus,
)
from pro_operator.events import Event
from pro_operator.jobs import PYTORCHJOB, JobObservation, observe_job
from pro_operator.pipeline import (
    Child,
    PipelineObservation,
    child_run,
    no_retries,
    pipeline_events,
    pipeline_status,
)
from pro_operator.publish import status_patch
from pro_operator.specs import invalid_event, invalid_status, parse_body, problems
from pro_operator.stage import StageObservation, stage_events, stage_status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OUT = "s3://bucket/rm"


# --------------------------------------------------------------------------------------------- jobs
def job(
    name: str = "rm-1", *conditions: tuple[str, str], created: datetime = T0, suspend: bool = False
) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"pro.alignment.dev/attempt": name.rsplit("-", 1)[1]},
            "creationTimestamp": rfc3339(created),
        },
        "spec": {"runPolicy": {"suspend": suspend}},
        "status": {
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": at, "message": f"job {name} {t.lower()}"}
                for t, at in conditions
            ]
        },
    }


def failed_pod(text: str, name: str = "rm-1-master-0") -> dict:
    terminated = {"exitCode": 1, "reason": "Error", "message": text}
    return {
        "metadata": {"name": name},
        "status": {"containerStatuses": [{"state": {"terminated": terminated}}]},
    }


LOG = "\n".join([*(f"step {i}" for i in range(30)), "error: data file /data/missing.jsonl not found"])


def see(
    body: dict, *, now: datetime = T0, pods: list[dict] | None = None, deadline: float = 900
) -> JobObservation:
    return observe_job(PYTORCHJOB, body, now=now, start_deadline=deadline, pods=lambda: pods or [])


def test_a_failed_job_reads_the_failing_pods_own_words_and_its_log_tail() -> None:
    seen = see(job("rm-1", ("Failed", "2026-12-01T12:00:05Z")), pods=[failed_pod(LOG)])
    assert seen.run.value == "Failed" and seen.finished_at == T0 + timedelta(seconds=5)
    assert seen.failure == "pod rm-1-master-0 exited with 1: data file /data/missing.jsonl not found"
    assert len(seen.log_tail) == 20 and seen.log_tail[-1].startswith("error: data file")
    # no pod that says more: the job's own condition
    assert see(job("rm-1", ("Failed", "2026-12-01T12:00:05Z"))).failure == "job rm-1 failed"


def test_a_job_waiting_to_run_is_rechecked_at_its_deadline_and_then_given_up() -> None:
    waiting = see(job(), now=T0 + timedelta(seconds=2), deadline=3)
    assert waiting.run.value == "Running" and waiting.recheck_at == T0 + timedelta(seconds=4)
    pulling = {
        "metadata": {"name": "rm-1-master-0"},
        "status": {
            "containerStatuses": [
                {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image x:1"}}}
            ]
        },
    }
    stuck = see(job(), now=T0 + timedelta(seconds=3), deadline=3, pods=[pulling])
    assert stuck.abandon and stuck.run.value == "Failed"
    assert stuck.failure == "job rm-1 not running 3s after creation: ImagePullBackOff: no such image x:1"
    # a job held suspended (Kueue) counts from its resumption
    held = job(created=T0 - timedelta(hours=1))
    held["status"]["conditions"] = [
        {"type": "Suspended", "status": "False", "lastTransitionTime": rfc3339(T0)}
    ]
    assert see(held, now=T0 + timedelta(seconds=1), deadline=3).recheck_at == T0 + timedelta(seconds=4)
    gone = see(held, now=T0 + timedelta(seconds=5), deadline=3)
    assert gone.abandon and "3s after resumption: no pod is running" in gone.failure
    # a given-up job stays failed, at the time it was given up
    held["metadata"]["annotations"] = {
        "pro.alignment.dev/abandoned": gone.failure,
        "pro.alignment.dev/abandoned-at": rfc3339(T0),
    }
    assert see(held, now=T0 + timedelta(hours=1)) == JobObservation("rm-1", 1, gone.run, T0, gone.failure)


# -------------------------------------------------------------------------------------------- stage
def observation(
    latest: JobObservation | None = None,
    *,
    attempts: int | None = None,
    old: StageRunStatus | None = None,
    committed: bool = False,
    suspend: bool = False,
    limit: int = 1,
    backoff: float = 10,
) -> StageObservation:
    execution = StageExecution(
        retry=RetrySettings(limit=limit, backoff_seconds=backoff),
        kubernetes=KubernetesSettings(start_deadline_seconds=3),
        suspend=suspend,
    )
    n = latest.attempt if latest is not None else 0
    return StageObservation(
        kind="RewardModelTraining", name="rm", namespace="ns", uid="u1", resource=None, backend=PYTORCHJOB,
        generation=1, digest="w1", output=OUT, execution=execution, old=old,
        attempts=n if attempts is None else attempts, latest=latest, next_attempt=n + 1, committed=committed,
    )  # fmt: skip


def reconcile(seen: StageObservation, now: datetime = T0) -> tuple[StageRunStatus, list[Event]]:
    """What a pass makes of ``seen`` (a start creates job ``rm-<n>``)."""
    decision = decide_stage(seen.node, seen.run, now, digest=seen.digest, suspend=seen.execution.suspend)
    job = f"rm-{seen.next_attempt}" if decision.start else None
    status = stage_status(seen, started(decision), job, now)
    return status, stage_events(seen, status)


def running(n: int = 1, **kw: Any) -> JobObservation:
    return JobObservation(f"rm-{n}", n, RunState.RUNNING, **kw)


def failed(n: int = 1, at: datetime = T0, tail: tuple[str, ...] = ()) -> JobObservation:
    return JobObservation(f"rm-{n}", n, RunState.FAILED, at, f"pod rm-{n}-master-0 exited with 1: boom", tail)


def test_a_fresh_stage_starts_attempt_1_and_says_so_once() -> None:
    status, events = reconcile(observation())
    assert (status.phase, status.attempts, status.job, status.start_time) == (
        StagePhase.RUNNING,
        1,
        "rm-1",
        rfc3339(T0),
    )
    assert events == [Event("Started", "attempt 1: job rm-1")]
    running_ = {c.type: (c.status, c.reason, c.message) for c in status.conditions}
    assert running_ == {
        "Running": ("True", "Running", "attempt 1"),
        "Succeeded": ("False", "Running", ""),
        "Failed": ("False", "Running", ""),
    }
    # the next pass sees the job running: nothing changed, no Event, no patch
    again, events = reconcile(observation(running(1), old=status), T0 + timedelta(seconds=30))
    assert events == [] and again == status
    assert status_patch(status.to_dict(), again.to_dict()) is None


def test_a_failed_attempt_backs_off_once_reported_then_retries() -> None:
    before, _ = reconcile(observation())
    backoff, events = reconcile(observation(failed(1), old=before), T0 + timedelta(seconds=1))
    assert backoff.phase is StagePhase.BACKOFF and backoff.failed == 1 and backoff.attempts == 1
    assert backoff.retry_time == rfc3339(T0 + timedelta(seconds=10))
    assert (
        backoff.last_failure_time == rfc3339(T0)
        and backoff.message == "pod rm-1-master-0 exited with 1: boom"
    )
    assert events == [
        Event(
            "AttemptFailed",
            "attempt 1 failed: pod rm-1-master-0 exited with 1: boom; retry at 2026-12-01T12:00:10Z",
            True,
        )
    ]
    retried, events = reconcile(observation(failed(1), old=backoff), T0 + timedelta(seconds=10))
    assert (retried.phase, retried.attempts, retried.job, retried.retry_time) == (
        StagePhase.RUNNING,
        2,
        "rm-2",
        None,
    )
    assert retried.failed == 1 and retried.last_failure_time == rfc3339(T0)
    assert events == [Event("Started", "attempt 2: job rm-2")]  # the failure was reported already


def test_a_failure_whose_retry_is_due_at_once_is_still_reported_once() -> None:
    before, _ = reconcile(observation())
    status, events = reconcile(observation(failed(1), old=before, backoff=0))
    assert (status.phase, status.attempts, status.failed) == (StagePhase.RUNNING, 2, 1)
    assert events == [
        Event(
            "AttemptFailed",
            "attempt 1 failed: pod rm-1-master-0 exited with 1: boom; retrying now as attempt 2",
            True,
        ),
        Event("Started", "attempt 2: job rm-2"),
    ]


def test_the_last_failure_carries_the_log_tail_into_message_condition_and_event() -> None:
    lines = ("step 29", "error: boom")
    before, _ = reconcile(observation(failed(1), backoff=0))
    status, events = reconcile(observation(failed(2, tail=lines), attempts=2, old=before))
    expected = "2 attempt(s); last: pod rm-2-master-0 exited with 1: boom\nlast lines of the log:\nstep 29\nerror: boom"
    assert (status.phase, status.message, status.failed, status.completion_time) == (
        StagePhase.FAILED,
        expected,
        2,
        rfc3339(T0),
    )
    failed_ = next(c for c in status.conditions if c.type == "Failed")
    assert (failed_.status, failed_.reason, failed_.message) == ("True", "RetriesExhausted", expected)
    assert events == [Event("Failed", expected, True)]  # not AttemptFailed as well


def test_a_job_stuck_before_running_fails_its_attempt() -> None:
    stuck = JobObservation(
        "rm-1", 1, RunState.FAILED, T0, "job rm-1 not running 3s after creation: x", abandon=True
    )
    status, events = reconcile(observation(stuck, limit=0))
    assert status.phase is StagePhase.FAILED and status.failed == 1
    assert status.message == "1 attempt(s); last: job rm-1 not running 3s after creation: x"
    assert events == [Event("Failed", status.message, True)]


def test_suspend_holds_a_fresh_stage_and_a_running_one_and_resume_says_so() -> None:
    held, events = reconcile(observation(suspend=True))
    assert (held.phase, held.attempts, held.job) == (StagePhase.SUSPENDED, 0, None)
    assert events == [Event("Suspended", "start no job until resumed; a running job is suspended")]
    assert next(c for c in held.conditions if c.type == "Running").reason == "Suspended"
    first, events = reconcile(observation(old=held))
    assert events == [Event("Started", "attempt 1: job rm-1")]

    paused, events = reconcile(observation(running(1), old=first, suspend=True))
    assert (paused.phase, paused.attempts, paused.job) == (StagePhase.SUSPENDED, 1, "rm-1")
    assert [e.reason for e in events] == ["Suspended"]
    resumed, events = reconcile(observation(running(1, suspended=True), old=paused))
    assert resumed.phase is StagePhase.RUNNING and events == [Event("Resumed", "attempt 1: job rm-1")]


def test_a_committed_stage_succeeded_and_one_found_committed_says_so() -> None:
    before, _ = reconcile(observation())
    done = JobObservation("rm-1", 1, RunState.SUCCEEDED, T0)
    status, events = reconcile(observation(done, old=before, committed=True))
    assert (status.phase, status.artifact, status.completion_time, status.retry_time) == (
        StagePhase.SUCCEEDED, OUT, rfc3339(T0), None,
    )  # fmt: skip
    assert events == [Event("Succeeded", f"committed {OUT}")]
    cached, events = reconcile(observation(committed=True))
    assert cached.attempts == 0 and cached.start_time is None
    assert events == [Event("Succeeded", f"committed {OUT} (already committed)")]


def test_exiting_successfully_without_committing_is_a_failed_attempt() -> None:
    done = JobObservation("rm-1", 1, RunState.SUCCEEDED, T0)
    status, _ = reconcile(observation(done, limit=0))
    assert status.phase is StagePhase.FAILED and "committed no artifact" in status.message


def test_an_invalid_spec_fails_the_stage_naming_the_field_and_removes_what_no_longer_applies() -> None:
    body = yaml.safe_load(
        (
            Path(__file__).resolve().parents[2]
            / "manifests/samples/pro.alignment.dev_v1alpha1_rewardmodeltraining.yaml"
        ).read_text()
    )
    body["metadata"] = {"name": "bad", "namespace": "ns", "generation": 3}
    body["spec"]["training"]["learningRate"] = -1
    with pytest.raises(SpecError) as caught:
        parse_body("RewardModelTraining", body)
    before, _ = reconcile(observation())
    body["status"] = before.to_dict()
    status = invalid_status(
        StageRunStatus, body, caught.value, condition="Failed", now=rfc3339(T0), phase=StagePhase.FAILED,
        message=f"invalid spec: {problems(caught.value)}",
    )  # fmt: skip
    assert status.phase is StagePhase.FAILED and status.observed_generation == 3
    assert status.message.startswith("invalid spec: spec.training.learningRate")
    failed_ = next(c for c in status.conditions if c.type == "Failed")
    assert (failed_.status, failed_.reason) == ("True", "InvalidSpec")
    assert invalid_event(caught.value) == Event("InvalidSpec", status.message, True)
    patch = status_patch(body["status"], status.to_dict())
    assert (
        patch is not None and patch["job"] is None and patch["startTime"] is None and patch["digest"] is None
    )


# ----------------------------------------------------------------------------------------- pipeline
def toy() -> tuple[Any, Any]:
    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/toy/pipeline.yaml").read_text())
    run = resumed(
        AlignmentPipeline.model_validate(doc), RunSnapshot(scheduled_time="2026-12-01T00:00:00Z"), {}
    )
    return run, no_retries(run.composition.graph)


def child(stage: Any, **status: Any) -> Child:
    st = StageRunStatus(digest=stage.digest, **status) if status else None
    return Child({"metadata": {"name": stage.resource.metadata.name}}, st, current=True)


def pipeline_pass(
    children: dict[str, Child], *, committed: tuple[str, ...] = (), suspend: bool = False, old: Any = None,
    **outcome: Any,
) -> tuple[AlignmentPipelineStatus, list[Event]]:  # fmt: skip
    run, graph = toy()
    c = run.composition
    if suspend:
        spec = c.pipeline.spec.model_copy(update={"suspend": True})
        c = dataclasses.replace(c, pipeline=c.pipeline.model_copy(update={"spec": spec}))
    effective = c.graph.work_digests
    stages = {
        s.name: child_run(s, children[s.name], effective[s.name])
        if s.name in children
        else StageStatus(committed_digest=effective[s.name] if s.name in committed else None)
        for s in c.stages
    }
    seen = PipelineObservation(run, c, graph, 1, "uid", old, children, stages)
    decided = plan(graph, Observed(stages=stages, suspend=suspend), T0)
    status = pipeline_status(seen, decided, T0, **outcome)
    return status, pipeline_events(old, status)


def phases(status: AlignmentPipelineStatus) -> dict[str, str]:
    return {s.name: s.phase.value for s in status.stages}


def test_a_fresh_pipeline_runs_its_reward_models_and_a_committed_one_is_cached() -> None:
    status, events = pipeline_pass({}, committed=("rm-humor",))
    assert status.phase is PipelinePhase.RUNNING
    assert phases(status) == {
        "rm-helpfulness": "Running", "rm-harmlessness": "Running", "rm-humor": "Succeeded",
        "adapter": "Waiting", "align": "Waiting", "align-baseline": "Waiting", "eval": "Waiting",
    }  # fmt: skip
    assert status.stage == "rm-helpfulness, rm-harmlessness" and status.progress == "1/7"
    assert status.result == ""
    humor = status.stages[2]
    assert humor.cached and humor.artifact.endswith("/rm-humor")
    assert events == [Event("StageCached", f"rm-humor: already committed at {humor.artifact}")]
    again, events = pipeline_pass({}, committed=("rm-humor",), old=status)
    assert events == [] and status_patch(status.to_dict(), again.to_dict()) is None


def test_a_suspended_pipeline_shows_its_stages_suspended() -> None:
    c = toy()[0].composition
    status, events = pipeline_pass({}, suspend=True)
    assert status.phase is PipelinePhase.SUSPENDED and status.stage == "" and status.progress == "0/7"
    assert events == []
    assert {phases(status)[s] for s in ("rm-helpfulness", "rm-humor")} == {"Suspended"}
    conds = {cd.type: (cd.status, cd.reason) for cd in status.conditions}
    assert conds["Suspended"] == ("True", "Suspended") and conds["Running"] == ("False", "Suspended")
    # suspended while a stage runs: its stage resource says when its job is suspended
    rm = c.stage("rm-helpfulness")
    live = {"rm-helpfulness": child(rm, phase=StagePhase.RUNNING, attempts=1, message="attempt 1")}
    status, _ = pipeline_pass(live, suspend=True)
    assert status.phase is PipelinePhase.RUNNING and phases(status)["rm-helpfulness"] == "Running"
    live = {"rm-helpfulness": child(rm, phase=StagePhase.SUSPENDED, attempts=1, message="attempt 1")}
    status, _ = pipeline_pass(live, suspend=True)
    assert status.phase is PipelinePhase.SUSPENDED and phases(status)["rm-helpfulness"] == "Suspended"


def test_a_stage_backing_off_and_then_failing_is_shown_in_its_own_words_and_ends_the_pipeline() -> None:
    c = toy()[0].composition
    rms = [s for s in c.stages if s.name.startswith("rm-")]
    done = {s.name: child(s, phase=StagePhase.SUCCEEDED, attempts=1) for s in rms[1:]}
    help_ = rms[0]
    backoff = {
        **done,
        help_.name: child(help_, phase=StagePhase.BACKOFF, attempts=1, failed=1, message="boom"),
    }
    status, events = pipeline_pass(backoff)
    assert status.phase is PipelinePhase.RUNNING and status.stages[0].message == "boom"
    assert events == [Event("StageBackoff", "rm-helpfulness: boom", True)]
    failed_ = {
        **done,
        help_.name: child(
            help_, phase=StagePhase.FAILED, attempts=2, failed=2, message="2 attempt(s); last: boom"
        ),
    }
    status2, events = pipeline_pass(failed_, old=status)
    assert status2.phase is PipelinePhase.FAILED and status2.completion_time == rfc3339(T0)
    assert phases(status2)["rm-helpfulness"] == "Failed" and phases(status2)["adapter"] == "Blocked"
    assert status2.stages[0].attempts == 2 and status2.stages[0].message == "2 attempt(s); last: boom"
    reasons = [e.reason for e in events]
    assert reasons == [
        "StageFailed",
        "StageBlocked",
        "StageBlocked",
        "StageBlocked",
        "StageBlocked",
        "PipelineFailed",
    ]
    assert events[-1] == Event("PipelineFailed", "rm-helpfulness: 2 attempt(s); last: boom", True)
    cond = next(cd for cd in status2.conditions if cd.type == "Failed")
    assert (cond.status, cond.reason, cond.message) == (
        "True",
        "StageFailed",
        "rm-helpfulness: 2 attempt(s); last: boom",
    )


def test_kubectl_columns_show_progress_and_the_result() -> None:
    """What ``kubectl get alp`` prints (Status, Progress, Stage, Result): a finished pipeline's win rate,
    and with a promotion gate its decision."""
    names = tuple(s.name for s in toy()[0].composition.stages)
    evaluation = EvaluationStatus(policy_a="pro", policy_b="uniform", prompts=300, win_rate=0.9384)
    status, _ = pipeline_pass({}, committed=names, evaluation=evaluation)
    assert status.phase is PipelinePhase.SUCCEEDED
    assert (status.progress, status.stage, status.result) == ("7/7", "", "win rate 0.938")
    assert status.evaluation == evaluation
    gate = (PromotionStatus(decision="Promoted", baseline="uniform", win_rate=0.91), None)
    status, _ = pipeline_pass({}, committed=names, evaluation=evaluation, gate=gate)
    assert status.result == "Promoted, win rate 0.910"
    rejected = (PromotionStatus(decision="Rejected", baseline="x", reasons=["regressed"]), None)
    status, _ = pipeline_pass({}, committed=names, gate=rejected)
    assert status.result == "Rejected"
