"""The ``status`` of every kind, as the operator writes it (Kubernetes API conventions).

Declared here so the CRDs' status schemas come from the same models the operator fills: the API
server prunes status fields a CRD does not declare.  Times are RFC 3339 strings (``...Z``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from pro.spec.base import SpecModel

ConditionStatus = Literal["True", "False", "Unknown"]


class StagePhase(StrEnum):
    """A stage's phase: a stage resource's ``status.phase``, a pipeline's ``status.stages[].phase`` and
    what ``pro run`` shows."""

    WAITING = "Waiting"
    """Its inputs are not committed yet."""
    PENDING = "Pending"
    """Ready, but not started (at the parallelism limit), or not looked at yet."""
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    """Held by ``suspend``: no attempt starts, and a running attempt's job is suspended."""
    BACKOFF = "Backoff"
    """Failed; waits before its next attempt."""
    SUCCEEDED = "Succeeded"
    """Its output artifact is committed for its current work."""
    FAILED = "Failed"
    """Failed and out of retries (or its spec is invalid)."""
    BLOCKED = "Blocked"
    """An upstream stage failed: it will not run."""
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


class PipelinePhase(StrEnum):
    """A pipeline's phase: an AlignmentPipeline's ``status.phase`` and how ``pro run`` ends."""

    PENDING = "Pending"
    """Nothing has started yet."""
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    """Held by ``suspend``: nothing starts, running stages are suspended."""
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    INVALID = "Invalid"
    """The spec breaks a rule (condition ``Valid`` says which): nothing runs."""


class Condition(SpecModel):
    """One aspect of the object's state (``Ready``, ``Succeeded``, ``Failed``, ``Suspended``, …)."""

    type: str
    """CamelCase condition type."""
    status: ConditionStatus
    """``True``, ``False`` or ``Unknown``."""
    reason: str = ""
    """CamelCase reason of the last transition."""
    message: str = ""
    """Human-readable details."""
    last_transition_time: str | None = None
    """When ``status`` last changed."""
    observed_generation: int | None = None
    """The ``metadata.generation`` this condition was computed for."""


class StageRunStatus(SpecModel):
    """Status of a stage resource (RewardModelTraining, AdapterTraining, PolicyAlignment,
    PolicyEvaluation)."""

    observed_generation: int | None = None
    """The ``metadata.generation`` the operator last acted on."""
    phase: StagePhase = StagePhase.PENDING
    """Running, Suspended, Backoff, Succeeded or Failed (Pending until first reconciled)."""
    conditions: list[Condition] = Field(default_factory=list)
    """Conditions ``Succeeded`` and ``Failed`` (and ``Running``)."""
    attempts: int = 0
    """Jobs started for the current work."""
    failed: int = 0
    """Attempts of the current work that failed (each is reported once, by an ``AttemptFailed`` or
    ``Failed`` Event)."""
    job: str | None = None
    """The PyTorchJob of the latest attempt."""
    digest: str | None = None
    """The work digest the latest attempt runs for."""
    artifact: str | None = None
    """The committed output artifact (set once verified in the store)."""
    message: str = ""
    """Why the stage is in its phase (for a failure: the reason and the failing pod's last log lines)."""
    start_time: str | None = None
    """When the first attempt was created."""
    completion_time: str | None = None
    """When the stage succeeded or failed for good."""
    last_failure_time: str | None = None
    """When the latest attempt failed (the backoff starts here)."""
    retry_time: str | None = None
    """When the next attempt will start (phase Backoff)."""


class StageSummary(SpecModel):
    """One stage of a pipeline as the pipeline's status shows it."""

    name: str
    """Stage name (``rm-<objective>``, ``adapter``, ``align``, ``align-baseline``, ``eval``)."""
    kind: str
    """The stage resource's kind."""
    resource: str
    """Name of the stage resource the pipeline created (or will create)."""
    phase: StagePhase
    """Waiting, Running, Suspended, Backoff, Succeeded, Failed or Blocked."""
    attempts: int = 0
    """Jobs started for the stage's current work."""
    cached: bool = False
    """Succeeded without running: its artifact was already committed for the same work."""
    artifact: str | None = None
    """The stage's output artifact URI."""
    message: str = ""
    """Why the stage is in its phase."""


class AlignmentPipelineStatus(SpecModel):
    """Status of an AlignmentPipeline."""

    observed_generation: int | None = None
    """The ``metadata.generation`` the operator last acted on."""
    phase: PipelinePhase = PipelinePhase.PENDING
    """Pending, Running, Suspended, Succeeded, Failed (or Invalid: the spec breaks a rule)."""
    conditions: list[Condition] = Field(default_factory=list)
    """Conditions ``Valid``, ``Running``, ``Succeeded``, ``Failed`` and ``Suspended``."""
    stage: str = ""
    """What runs now, for ``kubectl get`` (e.g. ``align``, or ``3/7``)."""
    stages: list[StageSummary] = Field(default_factory=list)
    """Every stage in dependency order."""
    artifacts: str | None = None
    """The run's artifact root (``<storage.uri>/<namespace>/<pipeline>/<runId>``)."""
    report: str | None = None
    """The evaluation report (``…/eval/report.html``) once the pipeline has succeeded."""
    start_time: str | None = None
    """When the operator first acted on the pipeline."""
    completion_time: str | None = None
    """When the pipeline succeeded or failed."""


class AlignmentScheduleStatus(SpecModel):
    """Status of an AlignmentSchedule."""

    observed_generation: int | None = None
    """The ``metadata.generation`` the operator last acted on."""
    conditions: list[Condition] = Field(default_factory=list)
    """Condition ``Valid`` (and ``Suspended``)."""
    active: list[str] = Field(default_factory=list)
    """Names of the pipelines this schedule created that have not finished."""
    last_schedule_time: str | None = None
    """The last time a pipeline was created."""
    last_successful_time: str | None = None
    """When the last pipeline created by this schedule succeeded."""
    next_schedule_time: str | None = None
    """When the next pipeline is due."""


__all__ = [
    "AlignmentPipelineStatus",
    "AlignmentScheduleStatus",
    "Condition",
    "ConditionStatus",
    "PipelinePhase",
    "StagePhase",
    "StageRunStatus",
    "StageSummary",
]
