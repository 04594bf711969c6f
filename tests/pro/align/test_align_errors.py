"""User-facing errors of the alignment and evaluation stages: one line, naming what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pro.errors import UserError
from tests.pro.align.conftest import align_spec


@pytest.mark.unit
def test_missing_or_empty_prompt_file(tmp_path: Path) -> None:
    from pro.stages.align import read_prompt_texts

    with pytest.raises(UserError, match="no such file"):
        read_prompt_texts(str(tmp_path / "none.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no prompts"):
        read_prompt_texts(str(empty))


@pytest.mark.unit
def test_prompts_are_deduplicated_and_limited(tmp_path: Path) -> None:
    from pro.stages.align import read_prompt_texts

    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ["a", "b", "a", "c"]))
    assert read_prompt_texts(str(f)) == ["a", "b", "c"] and read_prompt_texts(str(f), 2) == ["a", "b"]


@pytest.mark.unit
def test_oracle_needs_an_existing_world(tmp_path: Path) -> None:
    from pro.spec.align import WeightSettings
    from pro.stages.align import compute_weights

    with pytest.raises(UserError, match="no such file or directory"):
        compute_weights(WeightSettings(mode="oracle", world=str(tmp_path / "w")), ["a"], ["x"])


def _run(doc: dict[str, Any]) -> Any:
    from pro.spec.align import PolicyAlignment
    from pro.stages import align

    return align.run(PolicyAlignment.model_validate(doc))


@pytest.mark.ml
def test_missing_init_data(toy: dict[str, Any], tmp_path: Path) -> None:
    doc = align_spec(toy, tmp_path / "p", init={"data": str(tmp_path / "sft.jsonl"), "steps": 1})
    with pytest.raises(UserError, match=r"init.data: .*no such file"):
        _run(doc)


@pytest.mark.ml
def test_reward_model_without_statistics(toy: dict[str, Any], tmp_path: Path) -> None:
    rm = tmp_path / "rm"
    shutil.copytree(toy["rms"]["humor"], rm)
    (rm / "stats.json").unlink()
    doc = align_spec(toy, tmp_path / "p", rewardModels={**toy["rms"], "humor": str(rm)})
    with pytest.raises(UserError, match="no recorded score statistics"):
        _run(doc)


@pytest.mark.ml
def test_adapter_over_other_objectives(toy: dict[str, Any], tmp_path: Path) -> None:
    doc = align_spec(toy, tmp_path / "p", objectives=["humor", "helpfulness", "harmlessness"])
    with pytest.raises(UserError, match="the stage's objectives are"):
        _run(doc)


@pytest.mark.ml
def test_eval_prompt_file_missing(toy: dict[str, Any], tmp_path: Path) -> None:
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import evaluate

    doc = {"metadata": {"name": "e"}, "spec": {
        "policyA": {"name": "a", "uri": "x"}, "policyB": {"name": "b", "uri": "y"},
        "prompts": str(tmp_path / "none.jsonl"), "judge": {"world": toy["world"]}, "output": str(tmp_path / "o")}}  # fmt: skip
    with pytest.raises(UserError, match=r"prompts: .*no such file"):
        evaluate.run(PolicyEvaluation.model_validate(doc))
