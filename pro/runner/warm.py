"""Warm starts: one-process stages forked from an interpreter that has already imported the libraries.

A stage spends most of its start-up importing torch, transformers, trl, peft and datasets (≈3.5 s of CPU
each on a CPU machine, more than a small stage's own work).  ``pro run`` therefore starts one *zygote* per
run: ``python -m pro.runner.warm SOCKET`` imports them once and waits.  For each one-process stage it
forks a child that becomes exactly what a fresh ``python -m pro stage …`` would be — its own session, its
log as stdout and stderr, stdin from ``/dev/null``, its environment and working directory, fresh random
seeds — and runs ``pro.cli.main``; the zygote reports the child's pid, then its exit status.

Correct by construction, or not at all:

- A library reads some variables once, when it is imported (huggingface_hub its cache under ``HOME``,
  OpenMP its thread count).  A request whose environment differs from the zygote's in anything but the
  per-attempt variables (:data:`PER_ATTEMPT`) is refused, and the caller starts a fresh interpreter.
- The zygote never computes, so OpenMP has no thread pool to lose in a fork; it forks only while it runs
  no Python thread but its main one (numpy's BLAS pool and jemalloc's background thread handle a fork
  themselves: PyTorch's DataLoader workers are forked from the same state).
- Whatever goes wrong on the way (the zygote cannot start, dies, or takes too long to import), the caller
  is told None and starts the stage cold: a warm start is only ever faster, never different.

The zygote ends with ``pro run``: it reads EOF on its stdin when the run closes it, and gets SIGTERM from
the kernel (``PR_SET_PDEATHSIG``) if ``pro run`` dies; its children get SIGTERM when it does, as a cold
stage gets it when ``pro run`` dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pro.spec.kinds import stage_kinds
from pro.stages.runtime import PROGRESS_ENV, import_libraries

#: the variables that may differ between the zygote and a stage it starts: set per attempt, read when the
#: stage runs, never when a library is imported
PER_ATTEMPT = frozenset({PROGRESS_ENV, "MASTER_ADDR", "MASTER_PORT"})
#: how long a request waits for the zygote (its first answer comes after its imports)
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Request:
    """A stage to start: ``python -m <module> <args>`` with this environment, directory and log."""

    module: str
    args: list[str]
    env: dict[str, str]
    cwd: str
    log: str


def refusal(zygote_env: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """Why a stage with ``env`` cannot be forked from a zygote started with ``zygote_env`` (None: it can):
    the first variable, other than :data:`PER_ATTEMPT`, that one has and the other has not or has
    otherwise (named, never its value: values may be credentials)."""
    for key in sorted(set(zygote_env) | set(env)):
        if key not in PER_ATTEMPT and zygote_env.get(key) != env.get(key):
            return f"{key} differs from the zygote's environment"
    return None


# ---------------------------------------------------------------------------------------------- client
class WarmProcess:
    """A stage forked by the zygote: ``pid``, ``poll()``, ``wait()`` and ``returncode`` as
    :class:`subprocess.Popen` has them (negative: killed by that signal)."""

    def __init__(self, pid: int, conn: socket.socket, buffer: bytes = b"") -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._conn = conn
        self._buffer = buffer
        self._conn.setblocking(False)

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        chunk = b"-"
        if b"\n" not in self._buffer:
            try:
                chunk = self._conn.recv(4096)
            except BlockingIOError:
                return None
            except OSError:
                chunk = b""
            self._buffer += chunk
        if b"\n" in self._buffer:
            self._finish(int(json.loads(self._buffer.split(b"\n", 1)[0])["exit"]))
        elif not chunk and not pid_alive(self.pid):  # the zygote went away; so has the stage (PDEATHSIG)
            self._finish(-signal.SIGTERM)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["pro", "stage"], timeout or 0.0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def _finish(self, code: int) -> None:
        self.returncode = code
        self._conn.close()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Zygote:
    """The client of one run's zygote, started at the first request with that request's environment
    (whether a later request's may be forked, the zygote decides: :func:`refusal`)."""

    def __init__(self, launcher: Callable[[list[str]], list[str]] = list) -> None:
        """``launcher``: the zygote's command as it is started (e.g. :func:`pro.runner.process.with_parent`,
        so that it ends with its parent)."""
        self._launcher = launcher
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._broken = False
        self._lock = threading.Lock()

    @property
    def socket_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / "zygote.sock"

    def start(
        self, module: str, args: Sequence[str], *, env: Mapping[str, str], cwd: str, log: Path
    ) -> WarmProcess | None:
        """Fork ``python -m <module> <args>``; None when it cannot be (start it cold)."""
        with self._lock:
            if self._broken:
                return None
            if self._process is None:
                self._spawn(dict(env))
            try:
                return self._request(Request(module, list(args), dict(env), cwd, str(log)))
            except (OSError, ValueError, KeyError, TimeoutError):
                # not asked again; stopped by close(), not now: the stages it forked may be running
                self._broken = True
                return None

    def close(self) -> None:
        """End the zygote and remove its socket.  It waits for its children (at most 5 s: call it once
        the stages it forked have ended; any still running get SIGTERM with it)."""
        with self._lock:
            self._stop()

    def _spawn(self, env: dict[str, str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="pro-zygote-")
        self._process = subprocess.Popen(
            self._launcher([sys.executable, "-m", "pro.runner.warm", str(self.socket_path)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={k: v for k, v in env.items() if k not in PER_ATTEMPT},
            start_new_session=True,  # a Ctrl-C at the terminal reaches pro run, not the zygote
        )

    def _request(self, request: Request) -> WarmProcess | None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            if self._process.poll() is not None:
                raise OSError("the zygote exited")
            try:
                conn.connect(str(self.socket_path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise TimeoutError("the zygote did not listen") from None
                time.sleep(0.05)
        conn.settimeout(max(1.0, deadline - time.monotonic()))
        conn.sendall(json.dumps(request.__dict__).encode() + b"\n")
        line, rest = _read_line(conn)
        answer = json.loads(line)
        if "pid" not in answer:
            conn.close()
            return None
        return WarmProcess(int(answer["pid"]), conn, rest)

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                assert self._process.stdin is not None
                self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def _read_line(conn: socket.socket) -> tuple[bytes, bytes]:
    """The first line from ``conn`` and what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("the zygote closed the connection")
        data += chunk
    line, rest = data.split(b"\n", 1)
    return line, rest


# ---------------------------------------------------------------------------------------------- zygote
def serve(path: str) -> Request | None:
    """The zygote's loop: listen on ``path``, import what :func:`preload` names, then fork a child per
    request and report its pid and exit status.  Returns in a child (its request) or when stdin reaches
    EOF and no child is left (None)."""
    environment = dict(os.environ)  # as started: imports may set variables of their own
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    import_libraries(preload())  # frozen before any fork: the children share them, collected by none
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(sys.stdin.buffer, selectors.EVENT_READ, "stdin")
    children: dict[int, socket.socket] = {}
    closing = False
    while not (closing and not children):
        for key, _ in sel.select(timeout=0.05):
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    closing = True
                    sel.unregister(sys.stdin.buffer)
                continue
            conn, _ = listener.accept()
            request = _receive(conn)
            why = _why_not(request, environment)
            if why is not None:
                _send(conn, {"refused": why})
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                sel.close()
                listener.close()
                for other in children.values():
                    other.close()
                conn.close()
                assert request is not None
                return request
            _send(conn, {"pid": pid})
            children[pid] = conn
        _reap(children)
    return None


def preload() -> tuple[str, ...]:
    """What the zygote imports once: every stage kind's ``libraries`` (the kind table), in table order."""
    return tuple(dict.fromkeys(name for kind in stage_kinds() for name in kind.libraries))


def _receive(conn: socket.socket) -> Request | None:
    conn.settimeout(10)
    try:
        data = json.loads(_read_line(conn)[0])
        return Request(
            str(data["module"]), list(data["args"]), dict(data["env"]), str(data["cwd"]), str(data["log"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _why_not(request: Request | None, environment: Mapping[str, str]) -> str | None:
    if request is None:
        return "unreadable request"
    if threading.active_count() > 1:
        return "the zygote runs a thread"
    return refusal(environment, request.env)


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def become(request: Request, zygote: int) -> None:
    """In the forked child: become ``python -m <module> <args>`` as a fresh process would be (its exit
    ends this process, as it would end that one)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: end with the zygote
    if os.getppid() != zygote:
        sys.exit(128 + signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(request.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv = ["-m", *request.args]  # runpy puts the module's file first, as ``-m`` does
    _reseed()
    import runpy

    runpy.run_module(request.module, run_name="__main__", alter_sys=True)


def _reseed() -> None:
    """Fresh seeds, as a fresh interpreter has (Python's ``random`` reseeds itself after a fork)."""
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


def main() -> None:
    zygote = os.getpid()
    request = serve(sys.argv[1])
    if request is not None:
        become(request, zygote)


if __name__ == "__main__":
    main()
