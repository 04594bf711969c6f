"""One stage attempt as a local process tree: ``torchrun --standalone`` running ``pro stage``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pro.errors import PERMANENT_EXIT
from pro.logtail import failure_reason, stage_exit_code
from pro.spec.kinds import stage_verb
from pro.stages.runtime import PROGRESS_ENV


def stage_command(kind: str, spec_file: Path, nproc: int) -> list[str]:
    """The command a stage runs: the pod's command with ``--standalone`` rendezvous."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", "pro", "stage", stage_verb(kind), "-f", str(spec_file),
    ]  # fmt: skip


@dataclass(frozen=True)
class Progress:
    """How far a stage is, as it last reported (``pro.stages.runtime.report_progress``)."""

    step: int
    total: int
    phase: str = "training"
    """What it does: training, saving, committing, generating, …"""


@dataclass
class StageProcess:
    """A running (or finished) stage attempt; its output goes to ``log``."""

    stage: str
    attempt: int
    digest: str
    log: Path
    progress_file: Path
    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    stop_requested: float | None = None

    @classmethod
    def start(
        cls,
        *,
        stage: str,
        attempt: int,
        digest: str,
        command: list[str],
        log: Path,
        progress_file: Path,
        env: Mapping[str, str],
    ) -> StageProcess:
        """Start the attempt in its own process group (Ctrl-C reaches it only through :meth:`stop`)."""
        progress_file.unlink(missing_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            fh.write(
                f"==== {stage} attempt {attempt} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n".encode()
            )
            fh.flush()
            popen = subprocess.Popen(
                with_parent(command),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**env, PROGRESS_ENV: str(progress_file)},
                start_new_session=True,
            )
        return cls(stage, attempt, digest, log, progress_file, popen)

    def poll(self) -> int | None:
        return self.popen.poll()

    def progress(self) -> Progress | None:
        """How far the stage is, as it last reported (None before its first report)."""
        try:
            data = json.loads(self.progress_file.read_text())
            return Progress(int(data["step"]), int(data["total"]), str(data.get("phase", "training")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stop(self) -> None:
        """Ask the process group to stop (SIGTERM: torchrun forwards it to its workers)."""
        if self.stop_requested is None and self.popen.poll() is None:
            self.stop_requested = time.monotonic()
            self._signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def failure(self, code: int) -> tuple[str, bool]:
        """Why the attempt failed (the exit code and the stage's own last word), and whether for good
        (the stage exited with :data:`~pro.errors.PERMANENT_EXIT`, under torchrun as torchrun reports)."""
        text = read_end(self.log)
        code = stage_exit_code(text, code) if code > 0 else code
        reason = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
        why = failure_reason(text)
        return (f"{reason}: {why}" if why else reason), code == PERMANENT_EXIT


#: run before the stage's command, in its own process: ask Linux for SIGTERM when ``pro run`` dies, even by
#: SIGKILL (``prctl(PR_SET_PDEATHSIG)``; torchrun then stops its workers), then become the command.  A
#: launcher, not ``preexec_fn``, which is unsafe in a process with threads (the live display has one).
TERMINATE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL(None).prctl(1, signal.SIGTERM)\nexcept (OSError, AttributeError):\n    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n    sys.exit(143)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def with_parent(command: list[str]) -> list[str]:
    """``command`` started so that it ends when this process does (see :data:`TERMINATE_WITH_PARENT`)."""
    import shutil

    program = command[0] if os.path.isabs(command[0]) else shutil.which(command[0]) or command[0]
    return [sys.executable, "-c", TERMINATE_WITH_PARENT, str(os.getpid()), program, *command[1:]]


def read_end(path: Path, size: int = 64 * 1024) -> str:
    """The last ``size`` bytes of a log, as text ("" when unreadable)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
