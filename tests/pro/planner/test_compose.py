"""compose(pipeline): the stages, their inputs and outputs, and which changes re-run what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner import Observed, RunState, StagePhase, StageStatus, plan
from pro.planner.compose import child_name, compose
from pro.spec.align import PolicyAlignment
from pro.spec.conventions import WORK_DIGEST
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.stages import AdapterTraining, RewardModelTraining

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "toy" / "pipeline.yaml"
NOW = __import__("datetime").datetime(2026, 11, 26, tzinfo=__import__("datetime").UTC)


def doc() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def composed(data: dict[str, Any]) -> Any:
    return compose(AlignmentPipeline.model_validate(data))


def digests(data: dict[str, Any]) -> dict[str, str]:
    return {s.name: s.digest for s in composed(data).stages}


def test_the_toy_pipeline_has_every_stage_wired_to_its_inputs() -> None:
    c = composed(doc())
    root = "toy-out/store/default/toy/default"
    assert c.root == root
    assert [s.name for s in c.stages] == [
        "rm-helpfulness", "rm-harmlessness", "rm-humor", "adapter", "align", "align-baseline", "eval",
    ]  # fmt: skip
    rm = c.stage("rm-humor").resource
    assert isinstance(rm, RewardModelTraining)
    assert rm.spec.objective == "humor" and rm.spec.output == f"{root}/rm-humor"
    assert rm.metadata.name == "toy-rm-humor"
    assert rm.metadata.labels == {"pro.alignment.dev/pipeline": "toy", "pro.alignment.dev/stage": "rm-humor"}
    adapter = c.stage("adapter").resource
    assert isinstance(adapter, AdapterTraining)
    assert adapter.spec.reward_models["humor"] == f"{root}/rm-humor" and adapter.spec.tau == 0.1
    align = c.stage("align").resource
    assert isinstance(align, PolicyAlignment)
    assert align.spec.weights.mode == "adapter" and align.spec.weights.adapter == f"{root}/adapter"
    assert align.spec.weights.floor == 0.0  # no uniform floor (bench/optimum.py)
    base = c.stage("align-baseline").resource
    assert isinstance(base, PolicyAlignment)
    assert base.spec.weights.mode == "uniform" and base.spec.weights.adapter is None
    assert base.spec.training == align.spec.training
    ev = c.stage("eval").resource
    assert isinstance(ev, PolicyEvaluation)
    assert (ev.spec.policy_a.uri, ev.spec.policy_b.uri) == (f"{root}/align", f"{root}/align-baseline")
    assert ev.spec.adapter == f"{root}/adapter"
    assert c.graph.by_name["align-baseline"].needs == ("rm-helpfulness", "rm-harmlessness", "rm-humor")
    assert set(c.graph.by_name["eval"].needs) == {"align", "align-baseline", "adapter"}
    for s in c.stages:
        assert s.resource.metadata.annotations[WORK_DIGEST] == c.graph.work_digests[s.name]
        execution = s.resource.spec.execution
        assert execution is not None and execution.image.startswith("ghcr.io/pro-pipeline/trainer")


def test_changing_only_alignment_changes_only_alignment_and_evaluation() -> None:
    before = digests(doc())
    data = doc()
    data["spec"]["alignment"]["training"]["maxSteps"] = 123
    after = digests(data)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"align", "align-baseline", "eval"}


def test_changing_one_objective_reruns_its_reward_model_and_everything_downstream() -> None:
    before = digests(doc())
    data = doc()
    data["spec"]["objectives"][2]["data"]["maxRows"] = 10
    after = digests(data)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"rm-humor", "adapter", "align", "align-baseline", "eval"}


def test_cluster_settings_and_run_metadata_change_no_digest() -> None:
    before = digests(doc())
    data = doc()
    data["spec"]["image"] = "example.com/trainer:2"
    data["spec"]["alignment"]["resources"] = {"gpus": 8, "processesPerNode": 8}
    data["spec"]["kubernetes"] = {"queue": "gpu"}
    data["spec"]["retry"] = {"limit": 5}
    assert digests(data) == before


def test_a_baseline_artifact_replaces_the_baseline_stage_and_no_evaluation_means_no_eval_stage() -> None:
    data = doc()
    data["spec"]["evaluation"]["baseline"] = {"name": "last-month", "uri": "s3://b/policies/v1"}
    c = composed(data)
    assert "align-baseline" not in c.by_name
    ev = c.stage("eval").resource
    assert isinstance(ev, PolicyEvaluation)
    assert ev.spec.policy_b.uri == "s3://b/policies/v1" and ev.spec.policy_b.name == "last-month"
    del data["spec"]["evaluation"]
    assert [s.name for s in composed(data).stages][-1] == "align"


def test_uniform_alignment_needs_no_adapter() -> None:
    data = doc()
    del data["spec"]["adapter"]
    data["spec"]["alignment"]["weights"] = {"mode": "uniform"}
    data["spec"]["evaluation"]["baseline"] = {"uri": "s3://b/p"}
    c = composed(data)
    assert "adapter" not in c.by_name
    assert c.graph.by_name["eval"].needs == ("align",)


def test_objective_names_with_underscores_make_valid_stage_names() -> None:
    data = doc()
    data["spec"]["objectives"][0]["name"] = "instruction_following"
    c = composed(data)
    assert "rm-instruction-following" in c.by_name
    rm = c.stage("rm-instruction-following").resource
    assert isinstance(rm, RewardModelTraining) and rm.spec.objective == "instruction_following"


def test_long_names_are_shortened_deterministically_to_63_characters() -> None:
    long = "p" * 60
    name = child_name(long, "rm-helpfulness")
    assert len(name) <= 63 and name == child_name(long, "rm-helpfulness")
    assert name != child_name(long, "rm-harmlessness")
    assert child_name("toy", "eval") == "toy-eval"


def test_store_root_has_namespace_pipeline_and_run_id() -> None:
    data = doc()
    data["metadata"]["namespace"] = "team-a"
    data["spec"]["storage"] = {"uri": "s3://bucket/pro/"}
    data["spec"]["runId"] = "nightly-1"
    c = composed(data)
    assert c.root == "s3://bucket/pro/team-a/toy/nightly-1"
    assert c.stage("adapter").output == "s3://bucket/pro/team-a/toy/nightly-1/adapter"


def test_the_plan_of_a_fresh_pipeline_starts_the_reward_models_and_a_committed_one_does_nothing() -> None:
    c = composed(doc())
    fresh = plan(c.graph, Observed(), NOW)
    assert {a.stage for a in fresh.actions} == {"rm-helpfulness", "rm-harmlessness", "rm-humor"}
    assert fresh.stages["eval"].phase is StagePhase.WAITING
    done = Observed(stages={s.name: StageStatus(committed_digest=s.digest) for s in c.stages})
    finished = plan(c.graph, done, NOW)
    assert finished.actions == () and all(p.cached for p in finished.stages.values())
    # the reward models are committed and the adapter runs: alignment waits on it, the baseline starts
    partial = Observed(
        stages={
            **{
                n: StageStatus(committed_digest=c.stage(n).digest)
                for n in ("rm-helpfulness", "rm-harmlessness", "rm-humor")
            },
            "adapter": StageStatus(RunState.RUNNING, attempts=1),
        }
    )
    p = plan(c.graph, partial, NOW)
    assert [a.stage for a in p.actions] == ["align-baseline"]
    assert p.stages["align"].phase is StagePhase.WAITING


def test_a_warm_start_aligns_from_the_promoted_policy_pinned_when_the_run_started() -> None:
    from pro.spec.run import PromotedPin, RunSnapshot

    data = doc()
    data["spec"]["promotion"] = {"warmStart": True}
    pipeline = AlignmentPipeline.model_validate(data)
    first = RunSnapshot(scheduled_time="2026-11-30T03:00:00Z")
    cold = compose(pipeline, first).stage("align").resource.spec  # type: ignore[attr-defined]
    assert cold.init is not None and cold.policy.config is not None  # nothing promoted yet: as configured
    later = first.model_copy(
        update={"promoted": PromotedPin(etag="e1", policy="s3://b/pro/t1/align", run="t1")}
    )
    c = compose(pipeline, later)
    for stage in ("align", "align-baseline"):
        spec = c.stage(stage).resource.spec  # type: ignore[attr-defined]
        assert spec.policy.name == "s3://b/pro/t1/align" and spec.init is None and spec.policy.config is None
    assert c.stage("align").digest != compose(pipeline, first).stage("align").digest
