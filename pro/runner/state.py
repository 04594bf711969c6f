"""A local run's state on disk (``<run dir>/state.json``): what ``pro status`` and ``pro logs`` read, while
the run goes on and after it ended.

Written by the run loop whenever something a user would see changed (atomically: a temporary file renamed),
read by anyone.  The runner's pid says whether the run is still going.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pro.runner.warm import pid_alive
from pro.spec.conventions import rfc3339

STATE_FILE = "state.json"


class StateFile:
    """The writer side."""

    def __init__(self, run_dir: Path, pipeline: str, run_id: str) -> None:
        self.path = run_dir / STATE_FILE
        self.pipeline, self.run_id = pipeline, run_id
        self.started = time.time()
        self.last: str | None = None

    def write(self, phase: str, stages: list[dict[str, Any]]) -> None:
        """The run's phase and its stages (each as ``StageRecord.to_dict``), if anything changed."""
        body = {
            "pipeline": self.pipeline,
            "runId": self.run_id,
            "phase": phase,
            "pid": os.getpid(),
            "stages": stages,
        }
        text = json.dumps(body, indent=1)
        if text == self.last:
            return
        self.last = text
        stamped = {**body, "started": _stamp(self.started), "updated": _stamp(time.time())}
        tmp = self.path.with_name(f".{STATE_FILE}.tmp")
        tmp.write_text(json.dumps(stamped, indent=1) + "\n")
        os.replace(tmp, self.path)


def _stamp(t: float) -> str:
    from datetime import UTC, datetime

    return rfc3339(datetime.fromtimestamp(t, UTC))


@dataclass(frozen=True)
class RunState:
    """A run as its state file says, and whether its runner is alive."""

    path: Path
    data: dict[str, Any]

    @property
    def live(self) -> bool:
        pid = int(self.data.get("pid") or 0)
        if pid <= 0 or not pid_alive(pid):
            return False
        return self.data.get("phase") not in ("Succeeded", "Failed", "Cancelled")

    def stage(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.data.get("stages", []) if s.get("name") == name), None)


def read_state(run_dir: Path) -> RunState | None:
    """The state of the run in ``run_dir`` (None: no run has written one there)."""
    path = run_dir / STATE_FILE
    try:
        return RunState(path, json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def find_runs(root: Path = Path(".pro") / "runs") -> list[RunState]:
    """Every run under ``root`` (``.pro/runs/<namespace>/<pipeline>/<runId>``), the latest updated first."""
    found = [s for p in root.glob(f"*/*/*/{STATE_FILE}") if (s := read_state(p.parent)) is not None]
    return sorted(found, key=lambda s: str(s.data.get("updated", "")), reverse=True)


__all__ = ["STATE_FILE", "RunState", "StateFile", "find_runs", "read_state"]
