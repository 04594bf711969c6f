"""The PolicyEvaluation stage on two tiny policies: metrics, report, completions, judges, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pro.conftest import align_spec

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def policies(toy: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from pro.spec.align import PolicyAlignment
    from pro.stages import align

    base = tmp_path_factory.mktemp("pols")
    out = {}
    for mode in ("adapter", "uniform"):
        weights = {"mode": mode, "adapter": toy["adapter"]} if mode == "adapter" else {"mode": mode}
        doc = align_spec(toy, base / mode, weights=weights, training={
            "maxSteps": 1, "learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1})  # fmt: skip
        align.run(PolicyAlignment.model_validate(doc))
        out[mode] = str(base / mode)
    return out


def eval_doc(toy: dict[str, Any], policies: dict[str, str], out: Path, **over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "policyA": {"name": "pro", "uri": policies["adapter"]},
        "policyB": {"name": "uniform", "uri": policies["uniform"]},
        "prompts": toy["prompts"],
        "judge": {"kind": "world", "world": toy["world"]},
        "maxNewTokens": 6,
        "adapter": toy["adapter"],
        "output": str(out),
    }
    spec.update(over)
    return {"kind": "PolicyEvaluation", "metadata": {"name": "ev"}, "spec": spec}


def test_eval_stage_world_judge(toy: dict[str, Any], policies: dict[str, str], tmp_path: Path) -> None:
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import evaluate

    out = tmp_path / "ev"
    m = evaluate.run(PolicyEvaluation.model_validate(eval_doc(toy, policies, out)))
    assert m["prompts"] == 24 and 0 <= m["winRate"] <= 1
    assert set(m["objectives"]) == {"helpfulness", "harmlessness", "humor"}
    assert set(m["adapterWeightsByCategory"]) <= {"howto", "risky", "jokes", "advice"}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["comparison"] == "pro vs uniform"
    for name in (
        "report.html",
        "adapter-weights.png",
        "curve-trueUtility.png",
        "completions.jsonl",
        "manifest.json",
    ):
        assert (out / name).exists(), name


def test_eval_stage_reward_model_judge(toy: dict[str, Any], policies: dict[str, str], tmp_path: Path) -> None:
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import evaluate

    doc = eval_doc(toy, policies, tmp_path / "ev", judge={"kind": "rewardModel", "uri": toy["rms"]["humor"]},
                   objectives=["helpfulness", "humor"],
                   rewardModels={"helpfulness": toy["rms"]["helpfulness"], "humor": toy["rms"]["humor"]},
                   adapter=None)  # fmt: skip
    doc["spec"].pop("adapter")
    m = evaluate.run(PolicyEvaluation.model_validate(doc))
    assert set(m["objectives"]) == {"helpfulness", "humor"} and "byCategory" in m


def test_eval_cli(
    toy: dict[str, Any], policies: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pro.cli import main

    code = main(["eval", "--a", policies["adapter"], "--b", policies["uniform"], "--prompts", toy["prompts"],
                 "--world", toy["world"], "--max-prompts", "8", "--out", str(tmp_path / "ev")])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["prompts"] == 8 and (tmp_path / "ev" / "report.html").exists()


def test_eval_stage_cli_and_missing_policy(toy: dict[str, Any], policies: dict[str, str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import yaml

    from pro.cli import main

    doc = eval_doc(toy, policies, tmp_path / "ev", maxPrompts=4)
    doc["apiVersion"] = "pro.alignment.dev/v1alpha1"
    spec = tmp_path / "eval.yaml"
    spec.write_text(yaml.safe_dump(doc))
    assert main(["stage", "eval", "--spec", str(spec)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["kind"] == "PolicyEvaluation"
    doc["spec"]["policyB"]["uri"] = str(tmp_path / "nope")
    spec.write_text(yaml.safe_dump(doc))
    assert main(["stage", "pev", "--spec", str(spec)]) != 0
    assert "nope" in capsys.readouterr().err


def test_eval_prompt_file_missing(
    toy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stage fails before loading a model, with one line naming the field and the file."""
    import yaml

    from pro.cli import main

    doc = {"apiVersion": "pro.alignment.dev/v1alpha1", "kind": "PolicyEvaluation", "metadata": {"name": "e"},
           "spec": {"policyA": {"name": "a", "uri": "x"}, "policyB": {"name": "b", "uri": "y"},
                    "prompts": str(tmp_path / "none.jsonl"), "judge": {"world": toy["world"]},
                    "output": str(tmp_path / "o")}}  # fmt: skip
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(doc))
    assert main(["stage", "eval", "-f", str(tmp_path / "e.yaml")]) == 1
    assert capsys.readouterr().err == f"error: spec.prompts: {tmp_path / 'none.jsonl'}: no such file\n"
