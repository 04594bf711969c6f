"""Warm starts (``pro.runner.warm``): a stage forked from the zygote is the stage a fresh interpreter runs —
same output, same log, same exit codes — and one the zygote cannot start faithfully starts cold."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pro.errors import PERMANENT_EXIT
from pro.runner.loop import warm_starts_pay
from pro.runner.process import StageProcess, single_process_env, stage_command, with_parent
from pro.runner.warm import PER_ATTEMPT, WarmProcess, Zygote, pid_alive, refusal
from pro.runs import prepare
from pro.spec import dump_yaml
from pro.spec.pipeline import AlignmentPipeline
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc


@pytest.mark.unit
def test_only_per_attempt_variables_may_differ_and_a_refusal_names_the_variable_not_its_value() -> None:
    base = {"HOME": "/home/a", "OMP_NUM_THREADS": "2"}
    assert refusal(base, {**base, **dict.fromkeys(PER_ATTEMPT, "x")}) is None
    assert refusal(base, {**base, "HOME": "/tmp/secret-path"}) == "HOME differs from the zygote's environment"
    assert refusal(base, {"HOME": "/home/a"}) == "OMP_NUM_THREADS differs from the zygote's environment"
    assert refusal(base, {**base, "AWS_SECRET_ACCESS_KEY": "s3cr3t"}) == (
        "AWS_SECRET_ACCESS_KEY differs from the zygote's environment"
    )


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    z = Zygote(launcher=with_parent)
    yield z
    z.close()


def reward_stage(
    toy: Path, tmp_path: Path, name: str, steps: int = 1
) -> tuple[list[str], dict[str, str], Any]:
    """rm-humor of the minimal toy pipeline, writing to its own store: its command, environment, stage."""
    doc = pipeline_doc(toy, str(tmp_path / name / "store"), MINIMAL)
    doc["spec"]["rewardModel"]["training"]["maxSteps"] = steps
    stage = prepare(AlignmentPipeline.model_validate(doc)).composition.stage("rm-humor")
    spec = tmp_path / name / "rm-humor.yaml"
    spec.write_text(dump_yaml(stage.resource))
    env = {**os.environ, **single_process_env(), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return stage_command(stage.kind, spec, 1), env, stage


def started(
    tmp_path: Path, name: str, command: list[str], env: dict[str, str], z: Zygote | None
) -> StageProcess:
    """The stage started as ``pro run`` starts it (its own rendezvous port)."""
    return StageProcess.start(
        stage=name, attempt=1, digest="d", command=command, log=tmp_path / name / "log",
        progress_file=tmp_path / name / "progress", env={**env, **single_process_env()}, zygote=z,
    )  # fmt: skip


def normalised(log: Path) -> list[str]:
    """The log's lines with numbers, timings and paths' run-specific parts blanked."""
    text = log.read_text().split("\n", 1)[1]  # after the runner's header line
    text = re.sub(r"/tmp/\S+", "PATH", text)
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", text).splitlines()


@pytest.mark.ml
def test_a_warm_stage_is_the_stage_a_fresh_interpreter_runs(
    toy: Path, tmp_path: Path, zygote: Zygote
) -> None:
    cold_cmd, env, _ = reward_stage(toy, tmp_path, "cold")
    warm_cmd, _, _ = reward_stage(toy, tmp_path, "warm")
    cold = started(tmp_path, "cold", cold_cmd, env, None)
    assert cold.popen.wait(120) == 0
    warm = started(tmp_path, "warm", warm_cmd, env, zygote)
    assert isinstance(warm.popen, WarmProcess) and warm.popen.wait(120) == 0
    # the same result (the same seeds: the same numbers), the same log but for numbers and paths
    results = [
        json.loads(
            next(line for line in (tmp_path / n / "log").read_text().splitlines() if line.startswith("{"))
        )
        for n in ("cold", "warm")
    ]
    for r in results:
        del r["seconds"]
    assert results[0] == results[1]
    assert normalised(tmp_path / "cold" / "log") == normalised(tmp_path / "warm" / "log")
    assert "examples/s" not in (tmp_path / "warm" / "log").read_text()  # no datasets progress bars
    assert warm.progress() is not None  # PRO_PROGRESS_FILE, a per-attempt variable, reached it

    # a stage whose environment differs in what a library reads when it is imported starts cold
    other, env2, _ = reward_stage(toy, tmp_path, "other")
    fresh = started(tmp_path, "other", other, {**env2, "HOME": str(tmp_path)}, zygote)
    assert not isinstance(fresh.popen, WarmProcess) and fresh.popen.wait(120) == 0


@pytest.mark.ml
def test_exit_codes_and_signals_are_reported_and_stages_end_with_the_zygote(
    toy: Path, tmp_path: Path, zygote: Zygote
) -> None:
    command, env, _ = reward_stage(toy, tmp_path, "long", steps=100_000)
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: RewardModelTraining\n")
    bad = started(tmp_path, "bad", [*command[:-1], str(broken)], env, zygote)
    assert isinstance(bad.popen, WarmProcess)
    assert bad.popen.wait(60) == PERMANENT_EXIT  # an invalid spec fails for good, as in a fresh process
    assert bad.failure(PERMANENT_EXIT)[1] is True

    a, b = (started(tmp_path, n, command, env, zygote) for n in ("a", "b"))
    assert isinstance(a.popen, WarmProcess) and isinstance(b.popen, WarmProcess)
    wait_for(lambda: a.progress() is not None and b.progress() is not None, "both stages training")
    a.kill()
    assert a.popen.wait(30) == -signal.SIGKILL
    os.kill(zygote._process.pid, signal.SIGKILL)  # type: ignore[union-attr]  # the zygote dies
    assert b.popen.wait(60) is not None
    wait_for(lambda: not pid_alive(b.popen.pid), "the stage to end with its zygote")
    # a zygote that is gone is not asked again: the next stage starts cold
    zygote._process.wait()  # type: ignore[union-attr]
    later = started(tmp_path, "later", [*command[:-1], str(broken)], env, zygote)
    assert isinstance(later.popen, subprocess.Popen) and later.popen.wait(60) == PERMANENT_EXIT


def wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.unit
def test_a_run_gets_a_zygote_only_with_two_or_more_one_process_stages_to_start(
    toy: Path, tmp_path: Path
) -> None:
    doc = pipeline_doc(toy, str(tmp_path / "store"), MINIMAL)
    c = prepare(AlignmentPipeline.model_validate(doc), write=False).composition
    nothing: dict[str, str | None] = dict.fromkeys(s.name for s in c.stages)
    assert warm_starts_pay(c, nothing)
    all_but_eval = {s.name: (None if s.name == "eval" else s.digest) for s in c.stages}
    assert not warm_starts_pay(c, all_but_eval)  # one stage to start: its own imports are cheaper
    stale = {**all_but_eval, "align": "an older work digest"}  # committed for other work: runs again
    assert warm_starts_pay(c, stale)
    doc["spec"]["alignment"]["resources"] = {"processesPerNode": 2}
    two = prepare(AlignmentPipeline.model_validate(doc), write=False).composition
    assert not warm_starts_pay(two, {**{s.name: s.digest for s in two.stages}, "align": None, "eval": None})
