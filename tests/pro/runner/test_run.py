"""``pro run`` end to end on a small toy world: stages as torchrun processes, caching, partial re-runs,
retries, and Ctrl-C then resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.cli import main
from pro.runs import prepare
from pro.spec import load_file
from pro.spec.pipeline import AlignmentPipeline
from pro.store import read_manifest
from pro.testing.toy_pipeline import MINIMAL, Scale, pipeline_doc
from tests.pro.runner.test_display import too_wide

pytestmark = pytest.mark.ml


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(pipeline: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["run", "-f", str(pipeline), "--progress", "lines", "--run-dir", str(run_dir), *extra])
    return code, capsys.readouterr().out


def attempted(out: str) -> set[str]:
    """Stages that started an attempt in this run (from the progress lines)."""
    return {line.split()[1] for line in out.splitlines() if line.endswith("Running attempt 1")}


def test_run_commits_every_stage_then_skips_them_then_reruns_only_what_changed(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the transcript of a pipe at 80 columns: every line fits
    store = str(tmp_path / "store")
    doc = pipeline_doc(toy, store, MINIMAL)  # plumbing: caching and reruns, not what the stages learn
    pipeline = write(tmp_path / "pipeline.yaml", doc)

    code, out = run(pipeline, tmp_path / "run", capsys)
    assert code == 0, out
    assert not too_wide(out), "\n".join(too_wide(out))
    c = prepare(load_file(pipeline, AlignmentPipeline)).composition
    for stage in c.stages:
        manifest = read_manifest(stage.output)
        assert manifest is not None and manifest.work_digest == stage.digest, stage.name
        assert (tmp_path / "run" / "logs" / f"{stage.name}.log").stat().st_size > 0
    assert attempted(out) == set(c.by_name)
    assert (
        f"result: pro vs uniform on {MINIMAL.eval_prompts} held-out prompts" in out
        and "win rate, greedy" in out
    )
    words = " ".join(out.split())  # the headline, wrapped at 80 columns
    assert "pro vs uniform: win rate " in words and "share of the optimum: greedy pro " in words
    assert f"report: {c.stage('eval').output}/report.html" in out
    # stage logs: one readable line per logging step, no raw trainer dicts, no progress bars
    logs = {name: (tmp_path / "run" / "logs" / f"{name}.log").read_text() for name in c.by_name}
    assert all("{'loss'" not in text and "Loading weights" not in text for text in logs.values())
    assert re.search(rf"^step {MINIMAL.rm_steps}/{MINIMAL.rm_steps}  loss \S+  acc ", logs["rm-humor"], re.M)
    assert re.search(r"^step 1/\d+  loss \S+  reward \S+±\S+  kl ", logs["align"], re.M)
    assert re.search(rf"^trained {MINIMAL.adapter_steps} steps? in ", logs["adapter"], re.M)
    # each stage ran from its own spec file, the resource the operator would mount
    spec_file = tmp_path / "run" / "stages" / "adapter.yaml"
    assert yaml.safe_load(spec_file.read_text())["kind"] == "AdapterTraining"

    code, out = run(pipeline, tmp_path / "run", capsys)
    assert code == 0 and attempted(out) == set()
    assert out.count("Succeeded (cached)") >= 7

    # the run's state, after it ended: pro status and pro logs read its directory
    assert main(["status", "--run-dir", str(tmp_path / "run")]) == 0
    status = capsys.readouterr().out
    assert "pipeline toy (run default): Succeeded, not running" in status
    assert all(f"{name} " in status for name in c.by_name) and "Succeeded (cached)" in status
    assert main(["logs", "rm-humor", "--run-dir", str(tmp_path / "run"), "--tail", "1"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert main(["logs", "nope", "--run-dir", str(tmp_path / "run")]) == 1
    assert "has no stage 'nope' (stages: rm-helpfulness" in capsys.readouterr().err

    # --set overrides a field, validated like the file; --dry-run shows what would run and why
    code, out = run(
        pipeline,
        tmp_path / "run",
        capsys,
        "--dry-run",
        "--set",
        f"alignment.training.maxSteps={MINIMAL.align_steps + 1}",
    )
    assert code == 0, out
    will = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()[2:]
        if line.split()[1:2] in (["run"], ["skip"], ["reuse"])
    }
    assert will == {"rm-helpfulness": "skip", "rm-harmlessness": "skip", "rm-humor": "skip", "adapter": "skip",
                    "align": "run", "align-baseline": "run", "eval": "run"}, out  # fmt: skip
    assert "its committed artifact is for other work" in out and "3 of 7 stage(s) would run" in out
    assert main(["run", "-f", str(pipeline), "--set", "alignment.beta=-1", "--dry-run"]) == 1
    assert "spec.alignment.beta: Input should be greater than or equal to 0" in capsys.readouterr().err

    code, out = run(
        pipeline, tmp_path / "run", capsys, "--set", f"alignment.training.maxSteps={MINIMAL.align_steps + 1}"
    )
    assert code == 0, out
    assert attempted(out) == {"align", "align-baseline", "eval"}


def test_a_crashing_stage_is_retried_then_fails_the_pipeline_and_blocks_what_needs_it(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    run_dir = (
        tmp_path
        / ("a-directory-whose-name-alone-makes-the-log-path-wider-than-80-columns" + "-" * 20)
        / "run"
    )
    doc = pipeline_doc(toy, str(tmp_path / "store"), MINIMAL)
    # a backbone directory whose config is cut short: transformers raises (a crash, not a user error
    # the stage can name): worth a retry
    broken = tmp_path / "no-such-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert", ')
    doc["spec"]["objectives"][2]["model"] = {"name": str(broken)}
    doc["spec"]["retry"] = {"limit": 1, "backoffSeconds": 0.5}
    # every stage in a fresh interpreter (the other tests here fork them from the run's zygote)
    code, out = run(write(tmp_path / "p.yaml", doc), run_dir, capsys, "--cold-start")
    assert code == 1
    assert "rm-humor           Failed (attempt 2) 2 attempt(s); last: exit code" in out
    assert "no-such-model" in out  # the reason comes from the stage's own last word
    assert "rm-humor failed" in out
    assert f"  log: {run_dir / 'logs' / 'rm-humor.log'}" in out.splitlines()  # never wrapped
    assert not too_wide(out), "\n".join(too_wide(out))
    assert "adapter            Blocked needs rm-humor" in out
    c = prepare(load_file(tmp_path / "p.yaml", AlignmentPipeline)).composition
    assert read_manifest(c.stage("rm-helpfulness").output) is not None  # independent stages finished


def test_a_malformed_data_row_fails_its_stage_at_once_with_its_reason(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    doc = pipeline_doc(toy, str(tmp_path / "store"), MINIMAL)
    (tmp_path / "broken.jsonl").write_text(
        '{"prompt": "p", "chosen": "a", "rejected": "b", "objective": "humor"}\n{oops\n'
    )
    doc["spec"]["objectives"][2]["data"]["path"] = str(tmp_path / "broken.jsonl")
    doc["spec"]["retry"] = {"limit": 2, "backoffSeconds": 30}  # a retry would show as a 30 s wait
    code, out = run(write(tmp_path / "p.yaml", doc), tmp_path / "run", capsys)
    assert code == 1
    assert "rm-humor           Failed attempt 1 failed for good (not retried): ex…" in out  # cut at 80
    said = " ".join(out.split())  # the summary says it whole, wrapped at words
    assert "rm-humor failed: attempt 1 failed for good (not retried): exit code 65:" in said
    assert f"{tmp_path / 'broken.jsonl'}:2: invalid JSON" in said
    assert "Retrying" not in out and "Backoff" not in out
    assert (tmp_path / "run" / "logs" / "rm-humor.log").read_text().count("==== rm-humor attempt") == 1


def test_a_missing_data_file_fails_the_run_before_any_stage_starts(
    toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = pipeline_doc(toy, str(tmp_path / "store"), MINIMAL)
    doc["spec"]["objectives"][2]["data"]["path"] = str(tmp_path / "missing.jsonl")
    code = main(
        [
            "run",
            "-f",
            str(write(tmp_path / "p.yaml", doc)),
            "--progress",
            "lines",
            "--run-dir",
            str(tmp_path / "run"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert (
        captured.err == f"error: spec.objectives[2].data.path: {tmp_path / 'missing.jsonl'}: no such file\n"
    )
    assert not (tmp_path / "run" / "logs").exists()  # nothing started, nothing half-written
    assert not (tmp_path / "store").exists()


def _checkpoints(uri: str) -> list[Path]:
    return sorted(Path(uri + "-checkpoints").glob("step-*/manifest.json"))


def test_ctrl_c_stops_the_stages_and_the_same_command_resumes_from_the_checkpoint(
    toy: Path, tmp_path: Path
) -> None:
    scale = Scale(
        rm_steps=10, adapter_steps=10, init_steps=10, align_steps=40, checkpoint_every=4, eval_prompts=8
    )
    doc = pipeline_doc(toy, str(tmp_path / "store"), scale)
    del doc["spec"]["evaluation"]  # the resume is the point; the evaluation is covered above
    pipeline = write(tmp_path / "p.yaml", doc)
    c = prepare(load_file(pipeline, AlignmentPipeline)).composition
    align = c.stage("align").output
    cmd = [
        sys.executable,
        "-m",
        "pro",
        "run",
        "-f",
        str(pipeline),
        "--progress",
        "lines",
        "--run-dir",
        str(tmp_path / "run"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not _checkpoints(align) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert _checkpoints(align), "no checkpoint was committed"
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "stopped; run the same command again to resume" in out
    assert "align              Cancelled" in out or "align              Failed" not in out
    assert read_manifest(align) is None  # not committed: it was stopped
    leftover = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "run" / "stages")], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == "", "stage processes outlived pro run"

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rm-helpfulness     Succeeded (cached)" in done.stdout
    assert "adapter            Succeeded (cached)" in done.stdout
    metrics = json.loads((Path(align) / "metrics.json").read_text())
    assert metrics["resumedFrom"] >= scale.checkpoint_every and metrics["steps"] == scale.align_steps
