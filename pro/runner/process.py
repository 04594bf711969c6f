"""One stage attempt as a local process tree: ``pro stage`` itself (one process) or ``torchrun --standalone``
running it (several)."""

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
from pro.runner.warm import WarmProcess, Zygote
from pro.spec.kinds import stage_verb
from pro.stages.runtime import PROGRESS_ENV


def torchrun_command(kind: str, spec_file: Path, nproc: int) -> list[str]:
    """The pod's command (:func:`pro.render.pod.stage_command`) with ``--standalone`` rendezvous."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", "pro", "stage", stage_verb(kind), "-f", str(spec_file),
    ]  # fmt: skip


def stage_command(kind: str, spec_file: Path, nproc: int) -> list[str]:
    """The command ``pro run`` starts for a stage: with several processes, :func:`torchrun_command`; with
    one, the stage itself, run with the environment torchrun would give it (:func:`single_process_env`) —
    the same code path, without the launcher's ≈3 s of start-up (it imports torch and rendezvouses before
    the stage starts its own; ``bench/overhead.py``)."""
    if nproc > 1:
        return torchrun_command(kind, spec_file, nproc)
    return [sys.executable, "-m", "pro", "stage", stage_verb(kind), "-f", str(spec_file)]


def single_process_env() -> dict[str, str]:
    """What ``torchrun --standalone --nproc-per-node=1`` sets for its one worker (rank 0 of 1, a free
    loopback rendezvous port for libraries that join a process group of one, e.g. DeepSpeed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ranks = ("RANK", "LOCAL_RANK", "GROUP_RANK", "ROLE_RANK")
    sizes = ("WORLD_SIZE", "LOCAL_WORLD_SIZE", "ROLE_WORLD_SIZE")
    return {
        **dict.fromkeys(ranks, "0"),
        **dict.fromkeys(sizes, "1"),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }


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
    popen: subprocess.Popen[bytes] | WarmProcess
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
        zygote: Zygote | None = None,
    ) -> StageProcess:
        """Start the attempt in its own process group (Ctrl-C reaches it only through :meth:`stop`):
        forked by ``zygote`` when it is a one-process stage the zygote can start (:mod:`pro.runner.warm`),
        else as a fresh process."""
        progress_file.unlink(missing_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            fh.write(
                f"==== {stage} attempt {attempt} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n".encode()
            )
            fh.flush()
        env = {**env, PROGRESS_ENV: str(progress_file)}
        if zygote is not None and command[:2] == [sys.executable, "-m"]:
            warm = zygote.start(command[2], command[3:], env=env, cwd=os.getcwd(), log=log)
            if warm is not None:
                return cls(stage, attempt, digest, log, progress_file, warm)
        with log.open("ab") as fh:
            popen = subprocess.Popen(
                with_parent(command),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
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
        """Ask the process group to stop (SIGTERM, to the stage and, under torchrun, to its workers)."""
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
