"""PolicyAlignment / PolicyEvaluation specs: defaults, every validation error, example files, loader lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pro.spec import SpecError, load_file
from pro.spec.align import PolicyAlignment, PolicyAlignmentSpec
from pro.spec.evaluation import PolicyEvaluation, PolicyEvaluationSpec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
OBJ = ["helpfulness", "harmlessness"]


def spec(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "objectives": OBJ,
        "rewardModels": {"helpfulness": "s3://b/rm-h", "harmlessness": "s3://b/rm-s"},
        "weights": {"mode": "uniform"},
        "policy": {"name": "some/local-policy"},
        "prompts": "prompts.jsonl",
        "output": "s3://b/policy",
    }
    doc.update(over)
    return doc


def test_defaults_follow_the_paper_and_design_notes() -> None:
    s = PolicyAlignmentSpec.model_validate(spec())
    assert (s.method, s.algorithm, s.generation.temperature) == ("morlhf", "grpo", 0.7)
    assert s.wic.online_steps == 5000 and s.wic.template == "<w:{objective}={weight:.1f}>"
    assert s.training.max_steps == 200 and s.checkpoint_every == 0
    partial = PolicyAlignmentSpec.model_validate(spec(training={"seed": 3}))
    assert partial.training.max_steps == 200 and partial.training.learning_rate == 1e-5


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"weights": {"mode": "adapter"}}, "mode 'adapter' needs 'adapter'"),
        ({"weights": {"mode": "fixed"}}, "mode 'fixed' needs 'fixed'"),
        ({"weights": {"mode": "fixed", "fixed": {"helpfulness": -1, "harmlessness": 0}}}, "must be ≥ 0"),
        ({"weights": {"mode": "fixed", "fixed": {"helpfulness": 1}}}, "no weight for objective harmlessness"),
        ({"weights": {"mode": "oracle"}}, "mode 'oracle' needs 'world'"),
        ({"weights": {"mode": "magic"}}, "weights.mode"),
        ({"rewardModels": {"helpfulness": "x"}}, "no reward model for harmlessness"),
        (
            {"rewardModels": {"helpfulness": "x", "harmlessness": "y", "humor": "z"}},
            "unknown objective 'humor'",
        ),
        ({"objectives": ["a", "a"], "rewardModels": {"a": "x"}}, "named twice"),
        ({"policy": {"config": {"modelType": "llama"}, "tokenizer": {"build": {}}}}, "needs 'init'"),
        ({"algorithm": "ppo"}, "algorithm"),
        ({"generation": {"numGenerations": 1}}, "numGenerations"),
        ({"output": ""}, "output"),
    ],
)
def test_alignment_errors(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        PolicyAlignmentSpec.model_validate(spec(**over))
    assert message in str(err.value).replace(
        "generation.num_generations", "numGenerations"
    ) or message in str(err.value.errors())


def test_prompts_may_be_a_preference_source() -> None:
    s = PolicyAlignmentSpec.model_validate(spec(prompts={"format": "jsonl", "path": "mixed.jsonl"}))
    assert not isinstance(s.prompts, str) and s.prompts.path == "mixed.jsonl"


def test_evaluation_judges() -> None:
    base = {"policyA": {"name": "a", "uri": "x"}, "policyB": {"name": "b", "uri": "y"}, "prompts": "p",
            "output": "o"}  # fmt: skip
    ok = PolicyEvaluationSpec.model_validate(base | {"judge": {"world": "toy"}})
    assert ok.judge.kind == "world" and ok.temperature is None and ok.samples == 4 and ok.judge.pointwise
    for kind in ("rewardModel", "pairwise"):
        with pytest.raises(ValidationError, match=r"judge.uri\n.*needs 'uri' .* or 'model'"):
            PolicyEvaluationSpec.model_validate(base | {"judge": {"kind": kind}})
        with pytest.raises(ValidationError, match=r"judge.model\n.*'uri' .* or 'model' .*, not both"):
            PolicyEvaluationSpec.model_validate(base | {"judge": {"kind": kind, "uri": "a", "model": "b"}})
    hub = PolicyEvaluationSpec.model_validate(base | {"judge": {"kind": "pairwise", "model": "org/judge"}})
    assert hub.judge.source == "org/judge" and not hub.judge.pointwise
    with pytest.raises(ValidationError, match="temperature"):  # greedy is always evaluated; 0 means nothing
        PolicyEvaluationSpec.model_validate(base | {"judge": {"world": "t"}, "temperature": 0.0})
    with pytest.raises(ValidationError, match="unknown objective"):
        PolicyEvaluationSpec.model_validate(
            base | {"judge": {"world": "t"}, "objectives": ["a"], "rewardModels": {"b": "x"}}
        )


@pytest.mark.parametrize("name", ["align-pro.yaml", "align-wic.yaml"])
def test_example_alignment_files_load(name: str) -> None:
    res = load_file(ROOT / "examples/toy" / name, PolicyAlignment)
    assert res.kind == "PolicyAlignment" and res.spec.objectives == ["helpfulness", "harmlessness", "humor"]


def test_example_eval_file_loads() -> None:
    assert load_file(ROOT / "examples/toy/eval.yaml", PolicyEvaluation).spec.judge.world == "toy-out"


def test_loader_reports_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "pal.yaml"
    f.write_text(
        "kind: PolicyAlignment\nmetadata: {name: x}\nspec:\n  objectives: [a]\n  rewardModels: {a: x}\n"
        "  weights:\n    mode: adapter\n  policy: {name: p}\n  prompts: p.jsonl\n  output: o\n"
    )
    with pytest.raises(SpecError) as err:
        load_file(f, PolicyAlignment)
    assert "pal.yaml:6" in str(err.value) and "needs 'adapter'" in str(err.value)
