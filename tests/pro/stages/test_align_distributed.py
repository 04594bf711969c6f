"""The alignment stage under torchrun (2 processes, gloo), with a Kubeflow PyTorchJob environment, under
DeepSpeed ZeRO-2, and resuming from a committed checkpoint after being killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pro.conftest import align_spec

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PRO_CACHE_DIR": str(tmp_path / "cache"),
            "TORCH_EXTENSIONS_DIR": str(ROOT / ".torch_extensions"), **extra}  # fmt: skip


def _write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _result(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"kind"')]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_align_under_torchrun_standalone_two_processes(toy: dict[str, Any], tmp_path: Path) -> None:
    spec = _write(align_spec(toy, tmp_path / "policy"), tmp_path / "pal.yaml")
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "pro", "stage", "align", "--spec", str(spec)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _result(proc.stdout)
    assert len(results) == 1 and results[0]["worldSize"] == 2 and results[0]["steps"] == 2
    assert (tmp_path / "policy" / "manifest.json").exists()


def test_align_with_pytorchjob_environment(toy: dict[str, Any], tmp_path: Path) -> None:
    """The env a Kubeflow PyTorchJob master pod gets; torchrun reads PET_* unchanged."""
    spec = _write(align_spec(toy, tmp_path / "policy", algorithm="rloo"), tmp_path / "pal.yaml")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = _env(tmp_path, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="1", RANK="0",
               PET_NNODES="1", PET_NODE_RANK="0", PET_NPROC_PER_NODE="2", PET_MASTER_ADDR="127.0.0.1")  # fmt: skip
    env["PET_MASTER_PORT"] = env["MASTER_PORT"]
    proc = subprocess.run(
        [str(torchrun), "-m", "pro", "stage", "pal", "--spec", str(spec)],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _result(proc.stdout)[0]["worldSize"] == 2


@pytest.mark.parametrize(
    "deepspeed",
    [{"stage": 2}, {"stage": 3, "offloadOptimizer": True, "offloadParams": True}],
    ids=["zero2", "zero3-offload"],
)
def test_align_under_deepspeed(toy: dict[str, Any], tmp_path: Path, deepspeed: dict[str, Any]) -> None:
    doc = align_spec(toy, tmp_path / "policy", deepspeed=deepspeed)
    spec = _write(doc, tmp_path / "pal.yaml")
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "1", "-m", "pro", "stage", "align", "--spec", str(spec)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=400, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _result(proc.stdout)[0]["steps"] == 2


def test_killed_stage_resumes_from_last_committed_checkpoint(toy: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "policy"
    doc = align_spec(toy, out, checkpointEvery=2, training={
        "maxSteps": 40, "learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1})  # fmt: skip
    spec = _write(doc, tmp_path / "pal.yaml")
    cmd = [sys.executable, "-m", "pro", "stage", "align", "--spec", str(spec)]
    ckpts = Path(str(out) + "-checkpoints")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path), cwd=ROOT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (ckpts / "step-000004" / "manifest.json").exists():
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(tmp_path), timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = _result(done.stdout)[0]
    assert metrics["resumedFrom"] >= 4 and metrics["steps"] == 40
