"""What a pipeline's status reads from its committed evaluation: the win rate and the gate's decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pro.runs import evaluation_outcome, promotion_outcome, result_line
from pro.store import put_artifact
from pro.store.manifest import Producer

pytestmark = pytest.mark.unit


def commit(tmp_path: Path, files: dict[str, object]) -> str:
    src = tmp_path / "src"
    src.mkdir()
    for name, doc in files.items():
        (src / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))
    uri = str(tmp_path / "store" / "eval")
    put_artifact(src, uri, producer=Producer("PolicyEvaluation", "eval"), work_digest="")
    return uri


def test_the_win_rate_and_decision_of_a_committed_evaluation(tmp_path: Path) -> None:
    metrics = {"policyA": "pro", "policyB": "uniform", "prompts": 300, "winRate": 0.9384,
               "interval": [0.91, 0.96], "greedy": {}}  # fmt: skip
    promotion = {"decision": "Promoted", "baseline": "uniform", "winRate": 0.9384}
    uri = commit(tmp_path, {"metrics.json": metrics, "promotion.json": promotion})
    evaluation = evaluation_outcome(uri)
    assert evaluation is not None
    assert (evaluation.policy_a, evaluation.prompts, evaluation.win_rate_low) == ("pro", 300, 0.91)
    assert result_line(evaluation, None) == "win rate 0.938"
    found = promotion_outcome(uri)
    assert found is not None and result_line(evaluation, found[0]) == "Promoted, win rate 0.938"


@pytest.mark.parametrize("metrics", ["not json", json.dumps({"policyA": "pro"}), json.dumps([1, 2])])
def test_an_unreadable_metrics_file_gives_no_result(tmp_path: Path, metrics: str) -> None:
    uri = commit(tmp_path, {"metrics.json": metrics})
    assert evaluation_outcome(uri) is None and promotion_outcome(uri) is None
    assert result_line(None, None) == ""
