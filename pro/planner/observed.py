"""What the runner or the operator observed about each stage (the planner's input)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunState(StrEnum):
    """The state of a stage's latest attempt, as its executor reports it."""

    IDLE = "Idle"
    """No attempt for the current digest yet (or none running and none recorded)."""
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    """The attempt exited successfully (whether it committed its artifact is observed separately)."""
    FAILED = "Failed"


@dataclass(frozen=True)
class StageStatus:
    """One stage as observed."""

    run: RunState = RunState.IDLE
    attempts: int = 0
    """Attempts started for the work in ``digest``."""
    finished_at: datetime | None = None
    """When the latest attempt ended (for backoff)."""
    message: str = ""
    """The executor's last word on the latest attempt (e.g. the failure reason)."""
    committed_digest: str | None = None
    """The digest recorded in the stage's committed output artifact; None when there is none."""
    digest: str | None = None
    """The work digest the latest attempt ran for; None when unknown (taken as the current one)."""
    permanent: bool = False
    """The latest attempt failed for good (the stage said retrying cannot help: a spec, a missing file,
    a malformed row): the stage fails at once, whatever retries are left."""


@dataclass(frozen=True)
class Observed:
    """Everything the planner needs to know about the world."""

    stages: Mapping[str, StageStatus] = field(default_factory=dict)
    cancel: bool = False
    """The user asked to stop the pipeline."""
    suspend: bool = False
    """Start nothing new; a running stage is suspended (the operator suspends its job; the local runner
    never suspends)."""
    max_parallel: int | None = None
    """At most this many stages running at once (local parallelism); None: no limit."""

    def status(self, name: str) -> StageStatus:
        return self.stages.get(name, StageStatus())
