"""``pro run`` leaves no stage process behind, however it ends: SIGKILL (the stages get their parent-death
signal), SIGHUP (a closed terminal), and a reader that goes away (``pro run | head``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.testing.toy_pipeline import MINIMAL, pipeline_doc

pytestmark = pytest.mark.ml


def processes_of(run_dir: Path) -> list[int]:
    """The pids whose command line names ``run_dir`` (the stages' spec files live there) or whose output
    goes there (the stages' logs: a stage forked by the run's zygote has the zygote's command line)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            stdout = os.readlink(proc / "fd" / "1")
        except OSError:
            stdout = ""
        if str(run_dir) in cmdline or stdout.startswith(f"{run_dir}/"):
            found.append(int(proc.name))
    return found


def start(toy: Path, tmp_path: Path, *extra: str, **popen: Any) -> tuple[subprocess.Popen[bytes], Path]:
    doc = pipeline_doc(toy, str(tmp_path / "store"), MINIMAL)
    doc["spec"]["rewardModel"]["training"]["maxSteps"] = 100_000  # the stages run until they are stopped
    spec = tmp_path / "p.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "pro",
        "run",
        "-f",
        str(spec),
        "--progress",
        "lines",
        "--run-dir",
        str(run_dir),
        *extra,
    ]
    return subprocess.Popen(command, start_new_session=True, **popen), run_dir


def until_stages_run(run_dir: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(processes_of(run_dir)) >= 2:  # pro run's stage launchers and their torchrun trees
            return
        time.sleep(0.2)
    raise AssertionError("no stage started")


def gone(run_dir: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes_of(run_dir):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize(
    ("sig", "extra"),
    [(signal.SIGKILL, ()), (signal.SIGKILL, ("--cold-start",)), (signal.SIGHUP, ()), (signal.SIGTERM, ())],
    ids=["SIGKILL", "SIGKILL-cold-start", "SIGHUP", "SIGTERM"],
)
def test_no_stage_outlives_pro_run_killed(
    toy: Path, tmp_path: Path, sig: signal.Signals, extra: tuple[str, ...]
) -> None:
    """Warm stages end with the run's zygote, which ends with pro run; cold ones with pro run itself."""
    proc, run_dir = start(toy, tmp_path, *extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until_stages_run(run_dir)
    os.kill(proc.pid, sig)
    proc.wait(60)
    assert gone(run_dir), f"left behind: {processes_of(run_dir)}"


def test_no_stage_outlives_a_reader_that_went_away(toy: Path, tmp_path: Path) -> None:
    """``pro run … | head -2``: the pipe closes, pro run stops its stages and exits without a traceback."""
    proc, run_dir = start(toy, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    until_stages_run(run_dir)
    proc.stdout.close()  # the reader leaves; pro run's next progress line meets a broken pipe
    proc.wait(120)
    assert gone(run_dir), f"left behind: {processes_of(run_dir)}"
    assert b"Traceback" not in proc.stderr.read()
