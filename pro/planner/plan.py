"""The pure planner: :func:`decide_stage` decides one stage, :func:`plan` every stage of a graph.

Level-based: the same observations always give the same decisions, so an executor can decide after
any event, or after a restart, and act on the result.  The stage controller decides its one stage with
:func:`decide_stage`; the local runner and the pipeline controller plan whole graphs with :func:`plan`,
which decides each stage in dependency order the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pro.planner.graph import Graph, StageNode
from pro.planner.observed import Observed, RunState, StageStatus
from pro.spec.status import PipelinePhase, StagePhase


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
class StageDecision:
    """What one stage is now, and whether to start or stop an attempt of it."""

    phase: StagePhase
    reason: str
    """CamelCase, for conditions and events."""
    message: str = ""
    attempt: int = 0
    """The attempt running or about to start (1-based); 0 when none."""
    retry_at: datetime | None = None
    cached: bool = False
    """Succeeded without running now: an artifact for the same digest was already committed."""
    start: bool = False
    """Start attempt ``attempt`` now."""
    cancel: bool = False
    """Stop the running attempt now."""

    @property
    def live(self) -> bool:
        """An attempt is under way (running, being stopped, waiting out a backoff, or suspended with
        its job)."""
        if self.phase is StagePhase.SUSPENDED:
            return self.attempt > 0
        return self.phase in (StagePhase.RUNNING, StagePhase.CANCELLING, StagePhase.BACKOFF)


@dataclass(frozen=True)
class Plan:
    stages: dict[str, StageDecision]
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


def decide_stage(
    node: StageNode,
    status: StageStatus,
    now: datetime,
    *,
    digest: str,
    suspend: bool = False,
    cancel: bool = False,
    upstream: Mapping[str, StagePhase] | None = None,
) -> StageDecision:
    """One stage's decision for work ``digest``, given the phases of the stages it needs (``upstream``;
    none for a stage on its own), ``suspend`` (start nothing; a running attempt is suspended) and
    ``cancel`` (stop everything)."""
    if status.committed_digest == digest:
        return StageDecision(StagePhase.SUCCEEDED, "Committed", cached=status.attempts == 0)
    if status.run is RunState.RUNNING:
        return _running(status.attempts, suspend=suspend, cancel=cancel)
    if status.digest not in (None, digest):
        status = StageStatus()  # earlier attempts did other work: this work starts afresh
    if cancel:
        return StageDecision(StagePhase.CANCELLED, "CancelRequested")
    phases = upstream or {}
    blocked = [n for n, p in phases.items() if p in (StagePhase.FAILED, StagePhase.BLOCKED)]
    if blocked:
        return StageDecision(StagePhase.BLOCKED, "UpstreamFailed", f"needs {', '.join(blocked)}")
    waiting = [n for n, p in phases.items() if p is not StagePhase.SUCCEEDED]
    if waiting:
        return StageDecision(StagePhase.WAITING, "WaitingForInputs", f"needs {', '.join(waiting)}")
    failure = attempt_failure(status)
    if failure is not None and status.run is RunState.FAILED and status.permanent:
        message = f"attempt {status.attempts} failed for good (not retried): {failure}"
        return StageDecision(StagePhase.FAILED, "PermanentFailure", message)
    if failure is not None and status.attempts > node.retry.limit:
        message = f"{status.attempts} attempt(s); last: {failure}"
        return StageDecision(StagePhase.FAILED, "RetriesExhausted", message)
    if failure is not None and status.finished_at is not None:
        retry_at = status.finished_at + node.retry.delay(status.attempts)
        if now < retry_at:
            return StageDecision(StagePhase.BACKOFF, "BackoffAfterFailure", failure, retry_at=retry_at)
    if suspend:
        return StageDecision(StagePhase.SUSPENDED, "Suspended")
    attempt = status.attempts + 1
    if failure is None:
        return StageDecision(StagePhase.RUNNING, "Starting", f"attempt {attempt}", attempt, start=True)
    message = f"attempt {attempt} after: {failure}"
    return StageDecision(StagePhase.RUNNING, "Retrying", message, attempt, start=True)


def queued(decision: StageDecision, why: str) -> StageDecision:
    """``decision`` held back: it would start an attempt, but ``why`` (e.g. its namespace's limit of running
    jobs) keeps it waiting; nothing starts."""
    if not decision.start:
        raise ValueError("only a decision to start an attempt can be queued")
    return StageDecision(StagePhase.QUEUED, "Queued", why, retry_at=decision.retry_at)


def _running(attempt: int, *, suspend: bool, cancel: bool) -> StageDecision:
    """A stage whose attempt ``attempt`` runs."""
    if cancel:
        return StageDecision(StagePhase.CANCELLING, "CancelRequested", cancel=True)
    if suspend:
        return StageDecision(StagePhase.SUSPENDED, "Suspended", f"attempt {attempt}", attempt)
    return StageDecision(StagePhase.RUNNING, "Running", f"attempt {attempt}", attempt)


def plan(graph: Graph, observed: Observed, now: datetime) -> Plan:
    """The decision for every stage and what to do next, from observations alone."""
    stages: dict[str, StageDecision] = {}
    starts: list[StartStage] = []
    cancels: list[CancelStage] = []
    running = sum(1 for n in graph.order if observed.status(n).run is RunState.RUNNING)
    slots = None if observed.max_parallel is None else max(observed.max_parallel - running, 0)
    digests = graph.work_digests

    for name in graph.order:
        node = graph.by_name[name]
        decided = decide_stage(
            node, observed.status(name), now, digest=digests[name], suspend=observed.suspend,
            cancel=observed.cancel, upstream={n: stages[n].phase for n in node.needs},
        )  # fmt: skip
        if decided.start and slots is not None and slots <= 0:
            decided = StageDecision(StagePhase.PENDING, "ParallelismLimit")
        elif decided.start:
            slots = None if slots is None else slots - 1
            starts.append(StartStage(name, decided.attempt, digests[name]))
        elif decided.cancel:
            cancels.append(CancelStage(name))
        stages[name] = decided

    requeue = min((d.retry_at for d in stages.values() if d.retry_at is not None), default=None)
    return Plan(stages, (*cancels, *starts), _pipeline_phase(stages, observed), requeue)


def started(decision: StageDecision) -> StageDecision:
    """What a started stage is once its attempt runs (what its executor reports from then on)."""
    return _running(decision.attempt, suspend=False, cancel=False) if decision.start else decision


def _pipeline_phase(stages: dict[str, StageDecision], observed: Observed) -> PipelinePhase:
    phases = {d.phase for d in stages.values()}
    active = any(d.live for d in stages.values())
    if all(d.phase is StagePhase.SUCCEEDED for d in stages.values()):
        return PipelinePhase.SUCCEEDED
    if observed.cancel:
        return PipelinePhase.CANCELLING if StagePhase.CANCELLING in phases else PipelinePhase.CANCELLED
    if StagePhase.FAILED in phases and not active:
        return PipelinePhase.FAILED
    if observed.suspend and not active:
        return PipelinePhase.SUSPENDED
    return PipelinePhase.RUNNING
