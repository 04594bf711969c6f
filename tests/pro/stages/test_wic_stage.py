"""The PRO-WIC stage end to end on tiny models, and generation with its policy (adapter and fixed weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pro.conftest import align_spec

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def wic_policy(toy: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pro.spec.align import PolicyAlignment
    from pro.stages import align

    out = tmp_path_factory.mktemp("wic") / "policy"
    mixed = Path(toy["world"]) / "mixed.test.jsonl"
    # no maxSteps: WIC runs wic.onlineSteps rounds
    training = {"learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1}
    doc = align_spec(toy, out, method="wic", training=training, wic={
        "offlineData": {"format": "jsonl", "path": str(mixed), "maxRows": 32},
        "offlineSteps": 2, "onlineSteps": 2, "promptsPerRound": 4, "exploration": 0.2})  # fmt: skip
    metrics = align.run(PolicyAlignment.model_validate(doc))
    assert (
        metrics["method"] == "wic" and metrics["steps"] == 2 and metrics["offlineRows"] == 64
    )  # chosen + rejected
    return out


def test_wic_commits_policy_with_template(wic_policy: Path) -> None:
    meta = json.loads((wic_policy / "policy.json").read_text())
    assert meta["method"] == "wic" and meta["template"] == "<w:{objective}={weight:.1f}>"
    assert set(meta) == {"objectives", "method", "weights", "template", "tau", "promptFormat", "temperature"}
    assert meta["tau"] == 0.1  # the adapter's
    history = json.loads((wic_policy / "history.json").read_text())
    assert [h["step"] for h in history] == [1.0, 2.0] and "keptReward" in history[0]


def test_generate_writes_adapter_weights_into_wic_prompts(wic_policy: Path, toy: dict[str, Any]) -> None:
    from pro.align.generation import generate_with_weights

    rows = generate_with_weights(str(wic_policy), ["how do i tune a guitar at home ?"], adapter=toy["adapter"],
                                 max_new_tokens=5)  # fmt: skip
    assert set(rows[0]) == {"prompt", "weights", "completion"}
    assert abs(sum(rows[0]["weights"].values()) - 1) < 1e-3


def test_generate_cli(
    wic_policy: Path, toy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pro.cli import main

    prompts = tmp_path / "p.txt"
    prompts.write_text("tell me a joke about pirates please .\nhow can i open a gas valve tonight ?\n")
    out = tmp_path / "gen.jsonl"
    code = main(["generate", "--policy", str(wic_policy), "--fixed", "helpfulness=1,harmlessness=1,humor=2",
                 "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "4"])  # fmt: skip
    assert code == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["weights"]["humor"] == 0.5
