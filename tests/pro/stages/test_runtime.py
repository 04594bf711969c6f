"""What a stage prints and reports (one readable line per training log, counted progress for pro run),
and how it imports its libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pro.stages import runtime

pytestmark = pytest.mark.unit


def test_a_reward_trainers_log_reads_as_one_line() -> None:
    logs = {"loss": 0.6932, "grad_norm": 0.005972, "learning_rate": 0.003, "num_tokens": 2967.0,
            "mean_reward": 0.03, "accuracy": 0.3125, "margin": -7.629e-06, "epoch": 0.15}  # fmt: skip
    assert runtime.metric_line(logs, 60, 600, 0.5) == (
        "step 60/600  loss 0.6932  acc 0.3125  margin -7.63e-06  grad 0.005972  lr 0.003  2 steps/s"
    )


def test_a_grpo_log_shows_the_reward_with_its_spread_and_the_kl() -> None:
    logs = {"loss": -0.1279, "grad_norm": 0.99, "learning_rate": 0.001, "reward": 0.1795, "reward_std": 0.3816,
            "kl": 0.0078, "entropy": 4.983, "completions/mean_length": 36.5, "clip_ratio/low_mean": 0.0}  # fmt: skip
    line = runtime.metric_line(logs, 2, 200, 3.2)
    assert line == (
        "step 2/200  loss -0.1279  reward 0.1795±0.3816  kl 0.0078  entropy 4.983  len 36.5  grad 0.99  "
        "lr 0.001  3.2 s/step"
    )
    assert "{" not in line and "clip" not in line


def test_the_end_of_training_summary() -> None:
    logs = {"train_runtime": 81.34, "train_samples_per_second": 236.0, "train_steps_per_second": 7.376,
            "train_loss": 0.3107, "epoch": 1.5}  # fmt: skip
    assert (
        runtime.metric_line(logs, 600, 600, None)
        == "trained 600 steps in 81.3 s (7.38 steps/s), mean loss 0.3107"
    )


def test_counted_work_is_reported_to_pro_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    progress = tmp_path / "progress.json"
    monkeypatch.setenv(runtime.PROGRESS_ENV, str(progress))
    monkeypatch.delenv("RANK", raising=False)
    counted = runtime.Counted(96, "generating")
    assert json.loads(progress.read_text()) == {"step": 0, "total": 96, "phase": "generating"}
    counted.add(64)
    counted.add(32)
    assert json.loads(progress.read_text()) == {"step": 96, "total": 96, "phase": "generating"}
    runtime.report_phase("judging")
    assert json.loads(progress.read_text()) == {"step": 96, "total": 96, "phase": "judging"}


def test_a_stages_libraries_import_with_the_collector_paused_then_frozen(tmp_path: Path) -> None:
    (tmp_path / "probe_library.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    code = (
        "import gc, json, sys\n"
        "from pro.stages.runtime import import_libraries\n"
        "import_libraries(['probe_library', 'no_such_library_anywhere'])\n"
        "import probe_library\n"
        "print(json.dumps([probe_library.COLLECTING, gc.isenabled(), gc.get_freeze_count()]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    during, after, frozen = json.loads(done.stdout)
    # paused while they import, collecting again after, everything loaded by then out of its scans; a
    # library that is not there is left to the stage
    assert (during, after) == (False, True) and frozen > 1000, done.stdout
