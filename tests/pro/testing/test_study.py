"""``bench/optimum.py --quick``: the study's whole path (world, reward models, adapter, PRO and uniform
alignment, PRO-WIC, greedy and sampled judging against the optimum) in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.ml
def test_the_study_runs_in_quick_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.optimum import main

    assert main(["--quick", "--wic", "--root", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["method"], r["config"]) for r in rows] == [("morlhf", "example"), ("wic", "example")]
    for r in rows:
        assert r["optimum"] > 0 and 0 <= r["winRateGreedy"] <= 1
        for policy in ("pro", "uniform"):
            assert r[policy]["shareBestOfN"] >= r[policy]["shareSampled"] - 1e-9  # the best of n is no worse
    out = capsys.readouterr().out
    assert "| shipped | morlhf | example | 1 |" in out and "| shipped | wic | example | 1 |" in out
    assert main(["--quick", "--wic", "--root", str(tmp_path)]) == 0  # finished rows are not run again
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2


@pytest.mark.unit
@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_the_noise_check_flips_that_share_of_training_labels_only(tmp_path: Path, rate: float) -> None:
    from bench.noise import flipper

    rows = [
        {"prompt": f"p{i}", "chosen": f"good {i}", "rejected": f"bad {i}", "objective": "h"}
        for i in range(50)
    ]
    (tmp_path / "pairs").mkdir()
    for name in ("h.jsonl", "h.test.jsonl"):
        (tmp_path / "pairs" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    flipper(rate)(tmp_path)
    train = [json.loads(line) for line in (tmp_path / "pairs" / "h.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (tmp_path / "pairs" / "h.test.jsonl").read_text().splitlines()]
    assert sum(r["chosen"].startswith("bad") for r in train) == round(rate * 50)
    assert test == rows  # held-out pairs stay clean
