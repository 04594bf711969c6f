"""``plan(graph, observed, now)``: every stage's phase and the actions that move the pipeline on.

Level-based: the same observations always give the same plan, so an executor can call it
after any event, or after a restart, and act on the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pro.planner.graph import Graph
from pro.planner.observed import Observed, RunState, StageStatus


class StagePhase(StrEnum):
    """A stage's phase as users see it (printer columns, ``pro run`` lines)."""

    WAITING = "Waiting"
    """Its inputs are not committed yet."""
    PENDING = "Pending"
    """Ready, but not started (suspended, or at the parallelism limit)."""
    RUNNING = "Running"
    BACKOFF = "Backoff"
    """Failed; waits before its next attempt."""
    SUCCEEDED = "Succeeded"
    """Its output artifact is committed for its current digest."""
    FAILED = "Failed"
    """Failed and out of retries."""
    BLOCKED = "Blocked"
    """An upstream stage failed: it will not run."""
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


class PipelinePhase(StrEnum):
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


@dataclass(frozen=True)
class StartStage:
    """Start attempt ``attempt`` (1-based) of ``stage`` for work ``digest``."""

    stage: str
    attempt: int
    digest: str


@dataclass(frozen=True)
class CancelStage:
    """Stop the running attempt of ``stage``."""

    stage: str


Action = StartStage | CancelStage


@dataclass(frozen=True)
class StagePlan:
    name: str
    phase: StagePhase
    reason: str
    """CamelCase, for conditions and events."""
    message: str = ""
    attempt: int = 0
    """The attempt running or about to start (1-based); 0 when none."""
    retry_at: datetime | None = None
    cached: bool = False
    """Succeeded without running now: an artifact for the same digest was already committed."""


@dataclass(frozen=True)
class Plan:
    stages: dict[str, StagePlan]
    actions: tuple[Action, ...]
    phase: PipelinePhase
    requeue_at: datetime | None
    """Call plan again at this time at the latest (a backoff ends), even if nothing else happens."""


def attempt_failure(status: StageStatus) -> str | None:
    """Why the latest attempt counts as failed, or None if it did not fail."""
    if status.run is RunState.FAILED:
        return status.message or "the stage failed"
    if status.run is RunState.SUCCEEDED:
        return "the stage exited successfully but committed no artifact for its spec"
    return None


def _decide(
    name: str,
    status: StageStatus,
    upstream: list[StagePlan],
    graph: Graph,
    *,
    observed: Observed,
    now: datetime,
) -> StagePlan:
    """One stage's plan, given its upstream stages' plans; RUNNING + Starting/Retrying means start it."""
    node, digest = graph.by_name[name], graph.work_digests[name]
    if status.committed_digest == digest:
        return StagePlan(name, StagePhase.SUCCEEDED, "Committed", cached=status.attempts == 0)
    if status.run is RunState.RUNNING:
        if observed.cancel:
            return StagePlan(name, StagePhase.CANCELLING, "CancelRequested")
        return StagePlan(name, StagePhase.RUNNING, "Running", f"attempt {status.attempts}", status.attempts)
    if status.digest not in (None, digest):
        status = StageStatus()  # earlier attempts did other work: this work starts afresh
    if observed.cancel:
        return StagePlan(name, StagePhase.CANCELLED, "CancelRequested")
    blocked = [u.name for u in upstream if u.phase in (StagePhase.FAILED, StagePhase.BLOCKED)]
    if blocked:
        return StagePlan(name, StagePhase.BLOCKED, "UpstreamFailed", f"needs {', '.join(blocked)}")
    waiting = [u.name for u in upstream if u.phase is not StagePhase.SUCCEEDED]
    if waiting:
        return StagePlan(name, StagePhase.WAITING, "WaitingForInputs", f"needs {', '.join(waiting)}")
    failure = attempt_failure(status)
    if failure is not None and status.attempts > node.retry.limit:
        return StagePlan(
            name, StagePhase.FAILED, "RetriesExhausted", f"{status.attempts} attempt(s); last: {failure}"
        )
    if failure is not None and status.finished_at is not None:
        retry_at = status.finished_at + node.retry.delay(status.attempts)
        if now < retry_at:
            return StagePlan(name, StagePhase.BACKOFF, "BackoffAfterFailure", failure, retry_at=retry_at)
    if observed.suspend:
        return StagePlan(name, StagePhase.PENDING, "Suspended")
    attempt = status.attempts + 1
    if failure is None:
        return StagePlan(name, StagePhase.RUNNING, "Starting", f"attempt {attempt}", attempt)
    return StagePlan(name, StagePhase.RUNNING, "Retrying", f"attempt {attempt} after: {failure}", attempt)


def plan(graph: Graph, observed: Observed, now: datetime) -> Plan:
    """The phase of every stage and what to do next, from observations alone."""
    stages: dict[str, StagePlan] = {}
    starts: list[StartStage] = []
    cancels: list[CancelStage] = []
    running = sum(1 for n in graph.order if observed.status(n).run is RunState.RUNNING)
    slots = None if observed.max_parallel is None else max(observed.max_parallel - running, 0)

    for name in graph.order:
        upstream = [stages[n] for n in graph.by_name[name].needs]
        decided = _decide(name, observed.status(name), upstream, graph, observed=observed, now=now)
        if decided.reason in ("Starting", "Retrying"):
            if slots is not None and slots <= 0:
                decided = StagePlan(name, StagePhase.PENDING, "ParallelismLimit")
            else:
                slots = None if slots is None else slots - 1
                starts.append(StartStage(name, decided.attempt, graph.work_digests[name]))
        elif decided.phase is StagePhase.CANCELLING:
            cancels.append(CancelStage(name))
        stages[name] = decided

    requeue = min((p.retry_at for p in stages.values() if p.retry_at is not None), default=None)
    return Plan(stages, (*cancels, *starts), _pipeline_phase(stages, observed), requeue)


def _pipeline_phase(stages: dict[str, StagePlan], observed: Observed) -> PipelinePhase:
    phases = {p.phase for p in stages.values()}
    active = phases & {StagePhase.RUNNING, StagePhase.CANCELLING, StagePhase.BACKOFF}
    if all(p.phase is StagePhase.SUCCEEDED for p in stages.values()):
        return PipelinePhase.SUCCEEDED
    if observed.cancel:
        return PipelinePhase.CANCELLING if StagePhase.CANCELLING in phases else PipelinePhase.CANCELLED
    if StagePhase.FAILED in phases and not active:
        return PipelinePhase.FAILED
    if observed.suspend and not active:
        return PipelinePhase.SUSPENDED
    return PipelinePhase.RUNNING
