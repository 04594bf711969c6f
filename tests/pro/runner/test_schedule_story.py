"""Scheduled alignment on one machine: weekly data drops, work reused across firings, the promotion gate,
alignments warm-started from the promoted policy and the weight record, through ``pro run -f schedule.yaml
--scheduled-time T`` (issue #15's story)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from pro.cli import main
from pro.data import read_prompts
from pro.eval.drift import weights_by_category
from pro.spec.promotion import POINTER
from pro.store.lineage import run_records
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc
from pro.weights import AdapterWeights

pytestmark = pytest.mark.ml

OBJECTIVES = ("helpfulness", "harmlessness", "humor")
FIRST, SECOND = "2026-11-30T03:00:00Z", "2026-12-07T03:00:00Z"
THIRD = "2026-12-07T04:00:00Z"


def drops(toy: Path, root: Path) -> Path:
    """Two complete weekly drops (the second changes humor only) and a half-written third."""
    for day in ("2026-11-30", "2026-12-07", "2026-12-14"):
        (root / day).mkdir(parents=True)
        for o in OBJECTIVES:
            shutil.copy(toy / "pairs" / f"{o}.jsonl", root / day / f"{o}.jsonl")
    humor = (toy / "pairs" / "humor.jsonl").read_text().splitlines(keepends=True)
    (root / "2026-12-07" / "humor.jsonl").write_text("".join(humor[: len(humor) // 2]))
    (root / "2026-11-30" / "_SUCCESS").touch()
    (root / "2026-12-07" / "_SUCCESS").touch()
    return root


def schedule(
    toy: Path, store: Path, data: Path, *, init_steps: int, init_lr: float, warm_start: bool
) -> dict[str, Any]:
    doc = pipeline_doc(toy, str(store), MINIMAL, name="weekly")
    spec = doc["spec"]
    for obj in spec["objectives"]:
        obj["data"]["path"] = f"file://{data}/{{{{scheduledTime:%Y-%m-%d}}}}/{obj['name']}.jsonl"
    spec["alignment"]["init"] |= {"steps": init_steps, "learningRate": init_lr, "batchSize": 32}
    spec["evaluation"]["maxPrompts"] = 32
    spec["promotion"] = {"rule": {"minWinRate": 0.5}, "warmStart": warm_start}
    return {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": "AlignmentSchedule",
        "metadata": {"name": "weekly"},
        "spec": {"schedule": "0 3 * * 1", "pipelineTemplate": {"spec": spec}},
    }


def fire(path: Path, when: str, capsys: pytest.CaptureFixture[str]) -> tuple[set[str], set[str], str]:
    """One firing: the stages that ran, the stages reused, and the promotion line."""
    code = main(["run", "-f", str(path), "--scheduled-time", when, "--progress", "lines"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    ran = {line.split()[1] for line in lines if line.endswith("Running attempt 1")}
    reused = {line.split()[1] for line in lines if "Reused (from run" in line and line[:2].isdigit()}
    promotion = next(line for line in lines if line.startswith("promotion: "))
    return ran, reused, promotion


def test_weekly_firings_reuse_unchanged_work_gate_the_policy_and_record_its_weights(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the drift table whole, not cut to a pipe's 80 columns
    store, data = tmp_path / "store", drops(toy, tmp_path / "drops")
    good = tmp_path / "schedule.yaml"
    good.write_text(
        yaml.safe_dump(
            schedule(toy, store, data, init_steps=150, init_lr=0.003, warm_start=True), sort_keys=False
        )
    )
    pointer = store / "default" / "weekly" / POINTER

    # firing 1: everything trains; nothing promoted yet, so the gate is the run's own uniform baseline
    ran, reused, promotion = fire(good, FIRST, capsys)
    assert ran == {
        "rm-helpfulness",
        "rm-harmlessness",
        "rm-humor",
        "adapter",
        "align",
        "align-baseline",
        "eval",
    }
    assert (
        reused == set()
        and promotion.startswith("promotion: Promoted")
        and "own evaluation baseline" in promotion
    )
    first = json.loads(pointer.read_text())
    assert first["run"] == "t29933460" and first["policy"].endswith("/weekly-29933460/t29933460/align")
    assert {Path(o["uri"]).parent.name for objs in first["data"].values() for o in objs} >= {"2026-11-30"}

    # firing 2: only humor's drop changed: its reward model and what depends on it run, the rest is reused
    ran, reused, promotion = fire(good, SECOND, capsys)
    assert ran == {"rm-humor", "adapter", "align", "align-baseline", "eval"}
    assert reused == {"rm-helpfulness", "rm-harmlessness"}
    assert f"vs {first['policy']}" in promotion  # compared with the promoted policy, not its own baseline
    for stage in ("align", "align-baseline"):  # promotion.warmStart: both start from the promoted policy
        run = store / "default" / "weekly-29943540" / "t29943540" / stage
        assert yaml.safe_load((run / "stage.yaml").read_text())["spec"]["policy"] == {"name": first["policy"]}
        assert "initSteps" not in json.loads((run / "metrics.json").read_text())  # no SFT start again
    before = pointer.read_bytes()

    # firing 3: a broken alignment (no warm start, no real SFT start) is rejected; the pointer stays byte
    # for byte
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            schedule(toy, store, data, init_steps=1, init_lr=1e-6, warm_start=False), sort_keys=False
        )
    )
    ran, reused, promotion = fire(broken, THIRD, capsys)
    assert ran == {"align", "align-baseline", "eval"}
    assert reused == {"rm-helpfulness", "rm-harmlessness", "rm-humor", "adapter"}
    assert promotion.startswith("promotion: Rejected") and "< minWinRate 0.500" in promotion
    assert pointer.read_bytes() == before

    # the weight record of each run equals the adapter's weights on the probe prompts, recomputed here
    records = run_records(str(store / "default" / "weekly"))
    assert [r.run for r in records] == ["t29933460", "t29943540", "t29943600"]
    assert [r.decision for r in records][2] == "Rejected"
    probe = read_prompts(toy / "heldout.jsonl")
    last = json.loads(
        next((store / "default").glob("weekly-29943600/t29943600/eval/promotion.json")).read_text()
    )
    adapter = AdapterWeights(str(store / "default" / "weekly-29943540" / "t29943540" / "adapter"))
    expected = weights_by_category(
        adapter.weights([r.prompt for r in probe]), [r.category for r in probe], adapter.objectives
    )
    for category, weights in expected.items():
        assert records[2].weights[category] == pytest.approx(weights, abs=1e-6)
    assert records[2].drift is not None and records[2].drift.previous_run == "t29943540"
    assert last["drift"]["totalVariation"] == pytest.approx(0.0, abs=1e-6)  # same adapter: no move
    assert np.isfinite(records[1].drift.total_variation) if records[1].drift else False

    assert main(["drift", str(store / "default" / "weekly"), "--report", str(tmp_path / "drift.html")]) == 0
    table = capsys.readouterr().out
    assert "t29943600" in table and "Rejected" in table and (tmp_path / "drift.html").exists()
    assert "data:image/png;base64," in (tmp_path / "drift.html").read_text()
    assert main(["promoted", "-f", str(good), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == json.loads(before)["run"]
