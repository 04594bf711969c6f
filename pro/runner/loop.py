"""The local run loop: observe (processes, committed artifacts) → plan → act, until the pipeline ends.

The planner decides everything (what starts, retries and their backoff, what is skipped because it
is committed, what a cancel stops); this module only carries out its actions with local processes.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from pro.errors import UserError
from pro.planner import CancelStage, Observed, PipelinePhase, Plan, RunState, StageStatus, StartStage, plan
from pro.planner.compose import ComposedStage, Composition
from pro.render.env import stage_env
from pro.runner.process import Progress, StageProcess, single_process_env, stage_command, with_parent
from pro.runner.state import StateFile
from pro.runner.warm import Zygote
from pro.spec import dump_yaml
from pro.spec.conventions import rfc3339
from pro.spec.execution import StageExecution

TERMINAL = (PipelinePhase.SUCCEEDED, PipelinePhase.FAILED, PipelinePhase.CANCELLED)


@dataclass(frozen=True)
class RunOptions:
    """How ``pro run`` runs stages on this machine."""

    run_dir: Path
    """Stage spec files (``stages/<stage>.yaml``) and logs (``logs/<stage>.log``) go here."""
    max_parallel: int = 2
    """At most this many stages at once."""
    poll_seconds: float = 0.2
    """How often running stages are checked."""
    grace_seconds: float = 30.0
    """After Ctrl-C, how long stages get to stop before they are killed."""
    env: Mapping[str, str] | None = None
    """Environment of the stage processes (default: this process's)."""
    warm_start: bool = True
    """Fork one-process stages from an interpreter that has imported the libraries already
    (:mod:`pro.runner.warm`; each starts ≈2 s sooner, without its ≈3.5 s of import CPU) when the run
    has two or more of them to start (:func:`warm_starts_pay`); False: every stage in a fresh
    interpreter."""


@dataclass
class StageRecord:
    """What ``pro run`` shows about one stage."""

    name: str
    kind: str
    output: str
    log: Path
    phase: str = "Waiting"
    message: str = ""
    attempts: int = 0
    cached: bool = False
    reused_from: str | None = None
    """The run whose committed artifact this stage reuses (its work was done there)."""
    started: float | None = None
    seconds: float = 0.0
    """Time spent running in this invocation (all attempts)."""
    progress: Progress | None = None
    first_step: tuple[float, int] | None = None
    """When (monotonic) the running attempt first reported a step, and which: the rate is measured
    from there (start-up is not training)."""
    retry_at: datetime | None = None
    """In backoff: when the next attempt starts."""
    reason: str = ""
    """The planner's CamelCase reason for the phase (e.g. WaitingForInputs, ParallelismLimit)."""

    def elapsed(self, now: float) -> float:
        return self.seconds + (now - self.started if self.started is not None else 0.0)

    def observe(self, progress: Progress | None, now: float) -> None:
        """A new progress report of the running attempt."""
        if progress is None:
            return
        if self.first_step is None or progress.step < self.first_step[1]:
            self.first_step = (now, progress.step)
        self.progress = progress

    def to_dict(self, now: float) -> dict[str, Any]:
        """The stage as ``state.json`` holds it (``pro status``, ``pro logs``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "phase": self.phase,
            "reason": self.reason,
            "attempts": self.attempts,
            "seconds": round(self.elapsed(now)),
            "message": self.message,
            "artifact": self.output,
            "log": str(self.log),
        }
        if self.cached:
            out["cached"] = True
        if self.reused_from:
            out["reusedFrom"] = self.reused_from
        if self.progress is not None and self.phase == "Running":
            p = self.progress
            out["progress"] = {"step": p.step, "total": p.total, "phase": p.phase}
        if self.retry_at is not None:
            out["retryAt"] = rfc3339(self.retry_at)
        return out

    def rate(self, now: float) -> float | None:
        """Steps per second since the first reported step (None until there are two)."""
        if self.progress is None or self.first_step is None:
            return None
        t0, s0 = self.first_step
        done, seconds = self.progress.step - s0, now - t0
        return done / seconds if done > 0 and seconds > 0 else None


@dataclass
class Outcome:
    """How the run ended."""

    phase: PipelinePhase
    records: dict[str, StageRecord]
    seconds: float
    interrupted: bool = False
    overhead_seconds: float = field(default=0.0)
    """Wall time minus the time some stage was running: orchestration cost."""


class Display(Protocol):
    def update(self, plan: Plan, records: Mapping[str, StageRecord]) -> None: ...


def committed_digest(uri: str) -> str | None:
    """The work digest recorded in the artifact committed at ``uri`` (None: nothing committed)."""
    from pro.store import StoreError, read_manifest

    try:
        manifest = read_manifest(uri)
    except StoreError as err:
        raise UserError(f"cannot read the store at {uri}: {err}") from None
    return None if manifest is None else manifest.work_digest


def local_stage_env(execution: StageExecution, options: RunOptions, nproc: int) -> dict[str, str]:
    """A stage process's environment: the caller's, the stage environment a pod gets too
    (:func:`pro.render.env.stage_env`), torchrun's variables for a stage run without it, and a CPU thread count that shares this machine's cores among the
    stages that may run at once."""
    env = dict(os.environ if options.env is None else options.env)
    env.update(stage_env(execution.storage))
    if nproc == 1:  # started without torchrun (stage_command): its environment, as torchrun sets it
        env.update(single_process_env())
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // (options.max_parallel * nproc)))
    return env


class _Interrupts:
    """SIGINT/SIGTERM/SIGHUP → a stop request (the first) or killing the stages (the second)."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    def __enter__(self) -> _Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_pipeline(
    composition: Composition,
    options: RunOptions,
    display: Display,
    on_commit: Callable[[ComposedStage], None] | None = None,
) -> Outcome:
    """Run ``composition`` to the end (or until interrupted); every committed stage is skipped.
    ``on_commit``: called once for each stage this run committed (e.g. to index its work)."""
    t0 = time.monotonic()
    run_dir = options.run_dir
    (run_dir / "stages").mkdir(parents=True, exist_ok=True)
    records = {
        s.name: StageRecord(
            s.name,
            s.kind,
            s.output,
            run_dir / "logs" / f"{s.name}.log",
            reused_from=composition.reused[s.name].run if s.name in composition.reused else None,
        )
        for s in composition.stages
    }
    committed = {s.name: committed_digest(s.output) for s in composition.stages}
    state = StateFile(run_dir, composition.pipeline.metadata.name, composition.pipeline.spec.run_id)
    status: dict[str, StageStatus] = {}
    procs: dict[str, StageProcess] = {}
    busy_since: float | None = None
    busy = 0.0

    def observed(cancel: bool) -> Observed:
        stages = {
            s.name: _with_commit(status.get(s.name, StageStatus()), committed[s.name])
            for s in composition.stages
        }
        return Observed(stages=stages, cancel=cancel, max_parallel=options.max_parallel)

    warm = options.warm_start and warm_starts_pay(composition, committed)
    with _Interrupts() as interrupts, _zygote(warm) as zygote, _reaped(procs, options.grace_seconds):
        while True:
            now_wall = datetime.now(UTC)
            now = time.monotonic()
            for name, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    records[name].observe(proc.progress(), now)
                    continue
                del procs[name]
                rec = records[name]
                rec.seconds += now - proc.started
                rec.started = None
                if code == 0:
                    committed[name] = committed_digest(rec.output)
                    run, message = RunState.SUCCEEDED, ""
                    stage = composition.stage(name)
                    if on_commit is not None and committed[name] == stage.digest:
                        on_commit(stage)
                    permanent = False
                elif proc.stop_requested is not None:
                    run, message, permanent = RunState.FAILED, "stopped", False
                else:
                    run = RunState.FAILED
                    message, permanent = proc.failure(code)
                status[name] = StageStatus(
                    run, proc.attempt, now_wall, message, digest=proc.digest, permanent=permanent
                )
            if interrupts.count >= 2:
                for proc in procs.values():
                    proc.kill()
            for proc in procs.values():
                if proc.stop_requested is not None and now - proc.stop_requested > options.grace_seconds:
                    proc.kill()

            decided = plan(composition.graph, observed(interrupts.count > 0), now_wall)
            for action in decided.actions:
                if isinstance(action, StartStage):
                    procs[action.stage] = _start(composition, options, action, records[action.stage], zygote)
                    status[action.stage] = StageStatus(
                        RunState.RUNNING, action.attempt, None, digest=action.digest
                    )
                elif isinstance(action, CancelStage) and action.stage in procs:
                    procs[action.stage].stop()
            for name, sp in decided.stages.items():
                rec = records[name]
                rec.phase, rec.message, rec.cached = sp.phase.value, sp.message, sp.cached
                rec.retry_at, rec.reason = sp.retry_at, sp.reason
                if sp.attempt:
                    rec.attempts = sp.attempt
            if procs and busy_since is None:
                busy_since = now
            elif not procs and busy_since is not None:
                busy, busy_since = busy + (now - busy_since), None
            display.update(decided, records)
            state.write(decided.phase.value, [r.to_dict(now) for r in records.values()])
            if decided.phase in TERMINAL and not procs:
                break
            time.sleep(options.poll_seconds)
    total = time.monotonic() - t0
    return Outcome(
        decided.phase, records, total, interrupts.count > 0, overhead_seconds=max(0.0, total - busy)
    )


def warm_starts_pay(composition: Composition, committed: Mapping[str, str | None]) -> bool:
    """Whether the run has two or more one-process stages to start (not committed for their work): a
    zygote's imports cost about what one warm start saves, so only from the second on is it faster."""
    to_start = [
        s for s in composition.stages if committed[s.name] != s.digest and s.resources.processes_per_node == 1
    ]
    return len(to_start) >= 2


@contextmanager
def _zygote(warm: bool) -> Iterator[Zygote | None]:
    """The run's zygote (:mod:`pro.runner.warm`), ended with the run; None without warm starts."""
    if not warm:
        yield None
        return
    zygote = Zygote(launcher=with_parent)
    try:
        yield zygote
    finally:
        zygote.close()


@contextmanager
def _reaped(procs: Mapping[str, StageProcess], grace: float) -> Iterator[None]:
    """However the loop ends — an exception, a broken pipe, a signal — no stage process outlives it: the
    ones still running are asked to stop, and killed after ``grace`` seconds (at most 10)."""
    try:
        yield
    finally:
        running = [p for p in procs.values() if p.poll() is None]
        for proc in running:
            proc.stop()
        deadline = time.monotonic() + min(grace, 10.0)
        while any(p.poll() is None for p in running) and time.monotonic() < deadline:
            time.sleep(0.1)
        for proc in running:
            proc.kill()


def _with_commit(status: StageStatus, digest: str | None) -> StageStatus:
    return dataclasses.replace(status, committed_digest=digest)


def _start(
    composition: Composition,
    options: RunOptions,
    action: StartStage,
    rec: StageRecord,
    zygote: Zygote | None,
) -> StageProcess:
    stage = composition.stage(action.stage)
    spec_file = options.run_dir / "stages" / f"{stage.name}.yaml"
    spec_file.write_text(dump_yaml(stage.resource))
    nproc = stage.resources.processes_per_node
    rec.started, rec.progress, rec.first_step = time.monotonic(), None, None
    return StageProcess.start(
        stage=stage.name,
        attempt=action.attempt,
        digest=action.digest,
        command=stage_command(stage.kind, spec_file, nproc),
        log=rec.log,
        progress_file=options.run_dir / "stages" / f"{stage.name}.progress",
        env=local_stage_env(getattr(stage.resource, "spec").execution, options, nproc),  # noqa: B009
        zygote=zygote,
    )
