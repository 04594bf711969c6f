"""Table-driven tests of the pure planner: every stage transition, retries, cancellation, re-runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pro.planner import (
    CancelStage,
    Graph,
    GraphError,
    Observed,
    PipelinePhase,
    RetryPolicy,
    RunState,
    StageNode,
    StagePhase,
    StageStatus,
    StartStage,
    decide_stage,
    plan,
    queued,
    started,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RETRY = RetryPolicy(limit=2, backoff_seconds=10, factor=2, max_backoff_seconds=25)


def pipeline(align_digest: str = "a1", rm_digest: str = "r1") -> Graph:
    """The PRO shape: K reward models in parallel → adapter → alignment → evaluation."""
    rms = [
        StageNode(f"rm-{o}", "RewardModelTraining", (), f"{rm_digest}-{o}", RETRY) for o in ("help", "harm")
    ]
    return Graph(
        (
            *rms,
            StageNode("adapter", "AdapterTraining", ("rm-help", "rm-harm"), "d1", RETRY),
            StageNode("align", "PolicyAlignment", ("adapter", "rm-help", "rm-harm"), align_digest, RETRY),
            StageNode("eval", "Evaluation", ("align",), "e1", RETRY),
        )
    )


G = pipeline()
D = G.work_digests


def done(name: str, graph: Graph = G, attempts: int = 1) -> StageStatus:
    digest = graph.work_digests[name]
    return StageStatus(RunState.SUCCEEDED, attempts, T0, committed_digest=digest, digest=digest)


RUNNING = StageStatus(RunState.RUNNING, 1)
ALL_RMS = {"rm-help": done("rm-help"), "rm-harm": done("rm-harm")}


def failed(attempts: int, at: datetime = T0, msg: str = "OOMKilled") -> StageStatus:
    return StageStatus(RunState.FAILED, attempts, at, msg)


CASES = [
    # id, observed stages, now, expected phases (subset), expected actions, pipeline phase
    (
        "fresh: reward models start in parallel, the rest waits",
        {},
        T0,
        {"rm-help": "Running", "rm-harm": "Running", "adapter": "Waiting", "eval": "Waiting"},
        [StartStage("rm-help", 1, D["rm-help"]), StartStage("rm-harm", 1, D["rm-harm"])],
        "Running",
    ),
    (
        "running stages are left alone",
        {"rm-help": RUNNING, "rm-harm": RUNNING},
        T0,
        {"rm-help": "Running", "adapter": "Waiting"},
        [],
        "Running",
    ),
    (
        "adapter starts once every reward model is committed",
        ALL_RMS,
        T0,
        {"rm-help": "Succeeded", "adapter": "Running", "align": "Waiting"},
        [StartStage("adapter", 1, D["adapter"])],
        "Running",
    ),
    (
        "one reward model done is not enough",
        {"rm-help": done("rm-help"), "rm-harm": RUNNING},
        T0,
        {"adapter": "Waiting"},
        [],
        "Running",
    ),
    (
        "a failure waits out its backoff",
        {"rm-help": failed(1), "rm-harm": RUNNING},
        T0 + timedelta(seconds=5),
        {"rm-help": "Backoff"},
        [],
        "Running",
    ),
    (
        "after the backoff it retries with the next attempt number",
        {"rm-help": failed(1), "rm-harm": RUNNING},
        T0 + timedelta(seconds=10),
        {"rm-help": "Running"},
        [StartStage("rm-help", 2, D["rm-help"])],
        "Running",
    ),
    (
        "the backoff grows exponentially (2nd failure: 20 s)",
        {"rm-help": failed(2), "rm-harm": RUNNING},
        T0 + timedelta(seconds=19),
        {"rm-help": "Backoff"},
        [],
        "Running",
    ),
    (
        "exited 0 without committing an artifact counts as a failed attempt",
        {"rm-help": StageStatus(RunState.SUCCEEDED, 1, T0), "rm-harm": done("rm-harm")},
        T0 + timedelta(seconds=1),
        {"rm-help": "Backoff"},
        [],
        "Running",
    ),
    (
        "retries exhausted: failed, downstream blocked, other branches finish",
        {"rm-help": failed(3), "rm-harm": RUNNING},
        T0 + timedelta(hours=1),
        {"rm-help": "Failed", "adapter": "Blocked", "align": "Blocked", "eval": "Blocked"},
        [],
        "Running",
    ),
    (
        "retries exhausted and nothing active: the pipeline failed",
        {"rm-help": failed(3), "rm-harm": done("rm-harm")},
        T0 + timedelta(hours=1),
        {"rm-help": "Failed", "adapter": "Blocked"},
        [],
        "Failed",
    ),
    (
        "a finished pipeline re-run does nothing",
        {n: done(n) for n in G.order},
        T0,
        {n: "Succeeded" for n in G.order},
        [],
        "Succeeded",
    ),
    (
        "committed artifacts from an earlier run are reused (cached)",
        {**{n: replace(done(n), attempts=0) for n in ("rm-help", "rm-harm", "adapter")}},
        T0,
        {"rm-help": "Succeeded", "adapter": "Succeeded", "align": "Running"},
        [StartStage("align", 1, D["align"])],
        "Running",
    ),
]


@pytest.mark.parametrize(
    ("case", "stages", "now", "phases", "actions", "pipeline_phase"), CASES, ids=[c[0] for c in CASES]
)
def test_transitions(case: str, stages, now, phases, actions, pipeline_phase) -> None:  # noqa: PLR0917
    result = plan(G, Observed(stages), now)
    assert {n: result.stages[n].phase.value for n in phases} == phases
    assert list(result.actions) == actions
    assert result.phase.value == pipeline_phase


def test_changing_only_alignment_reruns_alignment_and_evaluation() -> None:
    finished = {n: done(n) for n in G.order}
    changed = pipeline(align_digest="a2")
    result = plan(changed, Observed(finished), T0)
    assert [a.stage for a in result.actions] == ["align"]
    assert result.stages["eval"].phase is StagePhase.WAITING
    assert all(result.stages[n].phase is StagePhase.SUCCEEDED for n in ("rm-help", "rm-harm", "adapter"))


def test_an_outdated_running_attempt_finishes_then_the_new_work_starts_at_attempt_1() -> None:
    changed = pipeline(align_digest="a2")
    old = G.work_digests["align"]
    running_old = {
        **{n: done(n) for n in ("rm-help", "rm-harm", "adapter")},
        "align": StageStatus(RunState.RUNNING, 2, digest=old),
    }
    assert plan(changed, Observed(running_old), T0).actions == ()
    finished_old = {**running_old, "align": StageStatus(RunState.FAILED, 3, T0, "boom", digest=old)}
    result = plan(changed, Observed(finished_old), T0)
    assert result.actions == (StartStage("align", 1, changed.work_digests["align"]),)


def test_changing_a_reward_model_cascades_downstream() -> None:
    finished = {n: done(n) for n in G.order}
    changed = pipeline(rm_digest="r2")
    result = plan(changed, Observed(finished), T0)
    assert {a.stage for a in result.actions} == {"rm-help", "rm-harm"}
    assert {result.stages[n].phase for n in ("adapter", "align", "eval")} == {StagePhase.WAITING}


def test_cancel_stops_running_stages_and_cancels_the_rest() -> None:
    observed = Observed({"rm-help": RUNNING, "rm-harm": done("rm-harm")}, cancel=True)
    result = plan(G, observed, T0)
    assert result.actions == (CancelStage("rm-help"),)
    assert result.stages["rm-help"].phase is StagePhase.CANCELLING
    assert result.stages["adapter"].phase is StagePhase.CANCELLED
    assert result.phase is PipelinePhase.CANCELLING
    stopped = plan(
        G, replace(observed, stages={**observed.stages, "rm-help": failed(1, msg="cancelled")}), T0
    )
    assert stopped.actions == () and stopped.phase is PipelinePhase.CANCELLED


def test_suspend_starts_nothing_new() -> None:
    result = plan(G, Observed({}, suspend=True), T0)
    assert result.actions == ()
    assert result.stages["rm-help"].phase is StagePhase.SUSPENDED
    assert result.stages["rm-help"].reason == "Suspended" and result.stages["rm-help"].attempt == 0
    assert result.phase is PipelinePhase.SUSPENDED


def test_a_running_stage_is_suspended_with_its_attempt_and_keeps_the_pipeline_running() -> None:
    result = plan(G, Observed({"rm-help": RUNNING}, suspend=True), T0)
    help_ = result.stages["rm-help"]
    assert (help_.phase, help_.attempt, help_.message) == (StagePhase.SUSPENDED, 1, "attempt 1")
    assert result.stages["rm-harm"].phase is StagePhase.SUSPENDED and result.stages["rm-harm"].attempt == 0
    assert result.actions == () and result.phase is PipelinePhase.RUNNING  # its job is still there


def test_parallelism_limit_counts_running_stages() -> None:
    result = plan(G, Observed({}, max_parallel=1), T0)
    assert result.actions == (StartStage("rm-help", 1, D["rm-help"]),)
    assert result.stages["rm-harm"].reason == "ParallelismLimit"
    busy = plan(G, Observed({"rm-help": RUNNING}, max_parallel=1), T0)
    assert busy.actions == ()


def test_requeue_at_is_the_earliest_backoff_end() -> None:
    result = plan(G, Observed({"rm-help": failed(1), "rm-harm": failed(2)}), T0)
    assert result.requeue_at == T0 + timedelta(seconds=10)
    assert result.stages["rm-harm"].retry_at == T0 + timedelta(seconds=20)


def test_backoff_is_capped() -> None:
    assert RETRY.delay(1) == timedelta(seconds=10)
    assert RETRY.delay(2) == timedelta(seconds=20)
    assert RETRY.delay(5) == timedelta(seconds=25)


def test_no_retries_policy_fails_at_once() -> None:
    g = Graph((StageNode("only", "RewardModelTraining", retry=RetryPolicy(limit=0)),))
    result = plan(g, Observed({"only": failed(1)}), T0)
    assert result.stages["only"].phase is StagePhase.FAILED and result.phase is PipelinePhase.FAILED
    assert "OOMKilled" in result.stages["only"].message


def test_plan_is_deterministic() -> None:
    observed = Observed({"rm-help": failed(1), "rm-harm": done("rm-harm")})
    assert plan(G, observed, T0) == plan(G, observed, T0)


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ((StageNode("a", "K"), StageNode("a", "K")), "duplicate stage names: a"),
        ((StageNode("a", "K", ("b",)),), "needs unknown stage(s): b"),
        ((StageNode("a", "K", ("b",)), StageNode("b", "K", ("a",))), "cycle"),
    ],
)
def test_bad_graphs(stages, message: str) -> None:
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Graph(stages)


# ---------------------------------------------------------------------------------------------------
# decide_stage: one stage on its own (the stage controller), no graph


SOLO = StageNode("solo", "RewardModelTraining", retry=RETRY)


def decide(status: StageStatus, now: datetime = T0, **kw: bool) -> tuple[str, str, int, bool]:
    d = decide_stage(SOLO, status, now, digest="w1", **kw)  # type: ignore[arg-type]
    return d.phase.value, d.reason, d.attempt, d.start


@pytest.mark.parametrize(
    ("status", "now", "flags", "expected"),
    [
        (StageStatus(), T0, {}, ("Running", "Starting", 1, True)),
        (StageStatus(), T0, {"suspend": True}, ("Suspended", "Suspended", 0, False)),
        (StageStatus(RunState.RUNNING, 2, digest="w1"), T0, {}, ("Running", "Running", 2, False)),
        (StageStatus(RunState.RUNNING, 2, digest="w1"), T0, {"suspend": True}, ("Suspended", "Suspended", 2, False)),
        (failed(1), T0 + timedelta(seconds=5), {}, ("Backoff", "BackoffAfterFailure", 0, False)),
        (failed(1), T0 + timedelta(seconds=5), {"suspend": True}, ("Backoff", "BackoffAfterFailure", 0, False)),
        (failed(1), T0 + timedelta(seconds=10), {}, ("Running", "Retrying", 2, True)),
        (failed(1), T0 + timedelta(seconds=10), {"suspend": True}, ("Suspended", "Suspended", 0, False)),
        (failed(3), T0, {}, ("Failed", "RetriesExhausted", 0, False)),
        (StageStatus(RunState.SUCCEEDED, 1, T0, committed_digest="w1"), T0, {}, ("Succeeded", "Committed", 0, False)),
        (StageStatus(RunState.FAILED, 3, T0, "old", digest="w0"), T0, {}, ("Running", "Starting", 1, True)),
        (StageStatus(RunState.FAILED, 1, T0, "no such file", digest="w1", permanent=True), T0, {},
         ("Failed", "PermanentFailure", 0, False)),
        (StageStatus(RunState.FAILED, 1, T0, "no such file", digest="w0", permanent=True), T0, {},
         ("Running", "Starting", 1, True)),
    ],
    ids=[
        "fresh", "fresh-suspended", "running", "running-suspended", "backoff", "backoff-suspended",
        "retry", "retry-suspended", "exhausted", "committed", "other-work", "permanent",
        "permanent-for-other-work",
    ],
)  # fmt: skip
def test_decide_stage(status: StageStatus, now: datetime, flags: dict[str, bool], expected: tuple) -> None:
    assert decide(status, now, **flags) == expected


def test_a_start_is_a_flag_and_started_says_what_runs_then() -> None:
    retry = decide_stage(SOLO, failed(1), T0 + timedelta(seconds=10), digest="w1")
    assert retry.start and retry.message == "attempt 2 after: OOMKilled"
    after = started(retry)
    assert (after.phase, after.reason, after.message, after.attempt, after.start) == (
        StagePhase.RUNNING, "Running", "attempt 2", 2, False,
    )  # fmt: skip
    backoff = decide_stage(SOLO, failed(1), T0, digest="w1")
    assert started(backoff) is backoff


def test_plan_decides_each_stage_as_decide_stage_does() -> None:
    observed = Observed({"rm-help": failed(1), "rm-harm": done("rm-harm")})
    result = plan(G, observed, T0 + timedelta(seconds=10))
    node = G.by_name["rm-help"]
    assert result.stages["rm-help"] == decide_stage(
        node, observed.status("rm-help"), T0 + timedelta(seconds=10), digest=D["rm-help"]
    )
    assert result.stages["adapter"] == decide_stage(
        G.by_name["adapter"], StageStatus(), T0, digest=D["adapter"],
        upstream={"rm-help": StagePhase.RUNNING, "rm-harm": StagePhase.SUCCEEDED},
    )  # fmt: skip


def test_a_start_held_back_by_its_namespace_limit_is_queued_and_starts_nothing() -> None:
    node = StageNode("rm-help", "RewardModelTraining", (), "r1", RETRY)
    start = decide_stage(node, StageStatus(), T0, digest="r1")
    held = queued(start, "namespace limit 2 running jobs reached")
    assert (held.phase, held.reason, held.message) == (
        StagePhase.QUEUED,
        "Queued",
        start_limit := held.message,
    )
    assert start_limit == "namespace limit 2 running jobs reached"
    assert not held.start and not held.live and started(held) == held  # no attempt runs or is counted
    running = decide_stage(node, RUNNING, T0, digest="r1")
    with pytest.raises(ValueError, match="only a decision to start"):
        queued(running, "full")
