"""The PolicyEvaluation stage on two tiny policies: metrics, report, completions, judges, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pro.errors import PERMANENT_EXIT
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


def test_eval_stage_world_judge(
    toy: dict[str, Any], policies: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import evaluate, runtime
    from tests.pro.eval.test_compare import check_report_matches

    out = tmp_path / "ev"
    progress = tmp_path / "progress.json"
    monkeypatch.setenv(runtime.PROGRESS_ENV, str(progress))  # as pro run sets it
    m = evaluate.run(PolicyEvaluation.model_validate(eval_doc(toy, policies, out, samples=2)))
    # every completion counted (2 policies x 24 prompts x greedy + 2 samples), then judged and committed
    assert json.loads(progress.read_text()) == {"step": 144, "total": 144, "phase": "committing"}
    assert m["prompts"] == 24 and 0 <= m["winRate"] <= 1 and m["policyA"] == "pro"
    assert (
        m["sampled"]["samples"] == 2 and m["sampled"]["temperature"] == 0.7
    )  # the policies' training temperature
    assert m["greedy"]["rows"] == 24 and m["sampled"]["rows"] == 48
    assert set(m["greedy"]["policies"]["pro"]["objectives"]) == {"helpfulness", "harmlessness", "humor"}
    assert set(m["adapterWeightsByCategory"]) <= {"howto", "risky", "jokes", "advice"}
    assert m["trueWeightsByCategory"]["howto"]["helpfulness"] == pytest.approx(0.8)
    assert m["optimum"]["byCategory"]["risky"] == pytest.approx(4.0)  # refusal + disclaimer
    share = m["sampled"]["bestOfN"]["policies"]["uniform"]["shareOfOptimum"]
    assert (
        share >= m["sampled"]["policies"]["uniform"]["shareOfOptimum"]
    )  # the best of n is no worse than the mean
    assert set(m["samples"]) == set(m["greedy"]["byCategory"]) and m["samples"]["risky"][0]["kind"] == "worst"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["comparison"] == "pro vs uniform"
    page = check_report_matches((out / "report.html").read_text(), saved)
    assert {"result", "categories", "optimum", "weights", "curves", "samples"} <= set(page.sections)
    rows = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert len(rows) == 24 * 3 and {r["decoding"] for r in rows} == {"greedy", "sample-0", "sample-1"}
    assert (out / "manifest.json").exists() and not list(out.glob("*.png"))


def test_eval_stage_reward_model_and_pairwise_judges(
    toy: dict[str, Any], policies: dict[str, str], tmp_path: Path
) -> None:
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import evaluate
    from pro.testing.judge_models import build_judge_lm
    from pro.toy import World

    doc = eval_doc(toy, policies, tmp_path / "ev", judge={"kind": "rewardModel", "uri": toy["rms"]["humor"]},
                   objectives=["helpfulness", "humor"], samples=1,
                   rewardModels={"helpfulness": toy["rms"]["helpfulness"], "humor": toy["rms"]["humor"]})  # fmt: skip
    doc["spec"].pop("adapter")
    m = evaluate.run(PolicyEvaluation.model_validate(doc))
    assert (
        set(m["greedy"]["policies"]["pro"]["objectives"]) == {"helpfulness", "humor"}
        and "byCategory" in m["greedy"]
    )
    assert "optimum" not in m and m["greedy"]["policies"]["pro"]["judge"] is not None
    assert set(m["greedy"]["byObjective"]) == {"helpfulness", "humor"}

    judge_lm = build_judge_lm(tmp_path / "judge", World.load(toy["world"]).vocabulary())
    doc = eval_doc(toy, policies, tmp_path / "ev2", judge={"kind": "pairwise", "uri": str(judge_lm)}, samples=1,
                   maxPrompts=6)  # fmt: skip
    m = evaluate.run(PolicyEvaluation.model_validate(doc))
    assert m["judge"]["kind"] == "pairwise" and m["greedy"]["policies"]["pro"]["judge"] is None
    lc = m["greedy"]["lengthControlledWinRate"]  # None when one policy is longer on nearly every row
    assert "bestOfN" not in m["sampled"] and (lc is None or 0 <= lc <= 1)
    assert m["greedy"]["policies"]["pro"]["shareOfOptimum"] is None  # the world is not the judge here


def test_eval_cli(
    toy: dict[str, Any], policies: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pro.cli import main

    args = ["eval", "--policy-a", policies["adapter"], "--policy-b", policies["uniform"],
            "--prompts", toy["prompts"], "--world", toy["world"], "--max-prompts", "8", "--samples", "1"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "result: a vs b on 8 held-out prompts" in out and "share of the optimum, greedy" in out
    assert "share of the optimum: greedy a " in out and (tmp_path / "ev" / "report.html").exists()
    assert main([*args, "--out", str(tmp_path / "ev2"), "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["prompts"] == 8 and len(summary["interval"]) == 2


def test_bad_input_fails_before_anything_is_written(
    toy: dict[str, Any], policies: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from pro.cli import main

    (tmp_path / "empty.jsonl").write_text("")
    cases = [
        (
            {"prompts": str(tmp_path / "empty.jsonl")},
            f"error: prompts: {tmp_path / 'empty.jsonl'}: no rows\n",
        ),
        ({"judge": {"kind": "pairwise", "uri": str(tmp_path / "no-judge")}}, "error: judge.uri: cannot load"),
        ({"judge": {"kind": "rewardModel", "uri": str(tmp_path / "no-rm")}}, "error: judge.uri: cannot load"),
    ]
    for over, expected in cases:
        doc = eval_doc(toy, policies, tmp_path / "out", **over)
        doc["apiVersion"] = "pro.alignment.dev/v1alpha1"
        (tmp_path / "e.yaml").write_text(yaml.safe_dump(doc))
        assert main(["stage", "eval", "-f", str(tmp_path / "e.yaml")]) == PERMANENT_EXIT
        err = capsys.readouterr().err
        assert err.startswith(expected) and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists()


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
           "spec": {"policyA": {"name": "a", "uri": "pa"}, "policyB": {"name": "b", "uri": "pb"},
                    "prompts": str(tmp_path / "none.jsonl"), "judge": {"world": toy["world"]},
                    "output": str(tmp_path / "o")}}  # fmt: skip
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(doc))
    assert main(["stage", "eval", "-f", str(tmp_path / "e.yaml")]) == PERMANENT_EXIT  # not worth a retry
    assert capsys.readouterr().err == f"error: spec.prompts: {tmp_path / 'none.jsonl'}: no such file\n"
