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
    QUEUED = "Queued"
    """Ready to start, but its namespace runs as many stage jobs as the platform allows: it starts (oldest
    first) when one of them ends."""
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
    """Queued, Running, Suspended, Backoff, Succeeded or Failed (Pending until first reconciled)."""
    conditions: list[Condition] = Field(default_factory=list)
    """Conditions ``Succeeded`` and ``Failed`` (and ``Running``)."""
    attempts: int = 0
    """Jobs started for the current work."""
    failed: int = 0
    """Attempts of the current work that failed (each is reported once, by an ``AttemptFailed`` or
    ``Failed`` Event)."""
    job: str | None = None
    """The job of the latest attempt."""
    job_backend: str | None = None
    """The kind of job its attempts run as: ``PyTorchJob`` or ``TrainJob`` (a stage left on ``auto``
    keeps the kind it ran first)."""
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
    """Waiting, Queued, Running, Suspended, Backoff, Succeeded, Failed or Blocked."""
    attempts: int = 0
    """Jobs started for the stage's current work."""
    cached: bool = False
    """Succeeded without running: its artifact was already committed for the same work."""
    reused_from: str | None = None
    """The earlier run of the same schedule or pipeline whose committed artifact this stage reuses (its
    work digest was the same); ``artifact`` is that artifact."""
    artifact: str | None = None
    """The stage's output artifact URI."""
    message: str = ""
    """Why the stage is in its phase."""


class DataSnapshotStatus(SpecModel):
    """What the run pinned when it started (the whole list is in ``snapshot``)."""

    snapshot: str
    """The run's ``snapshot.json``: every data reference with its exact objects."""
    scheduled_time: str
    """The scheduled time the ``{{scheduledTime}}`` placeholders were filled with."""
    references: int
    """Data references pinned."""
    objects: int
    """Objects they resolved to."""
    bytes: int
    """Their total size."""
    selected: list[str] = Field(default_factory=list)
    """The drops ``{{latestComplete}}`` selected."""


class PromotionStatus(SpecModel):
    """The promotion gate's decision on this run (from the evaluation's ``promotion.json``)."""

    decision: str
    """Promoted, Rejected, Superseded (another run moved the pointer first) or Unchanged."""
    baseline: str
    """What the policy was compared with."""
    win_rate: float | None = None
    """The policy's win rate against it (ties ½)."""
    win_rate_low: float | None = None
    """The lower end of its bootstrap interval (when the rule asks for one)."""
    win_rate_high: float | None = None
    """The upper end of its bootstrap interval."""
    reasons: list[str] = Field(default_factory=list)
    """Why it was not promoted."""


class EvaluationStatus(SpecModel):
    """The evaluation's outcome (from its committed ``metrics.json``)."""

    policy_a: str
    """The candidate's label (the aligned policy)."""
    policy_b: str
    """The baseline's label."""
    prompts: int
    """Held-out prompts compared."""
    win_rate: float
    """A's win rate against B (ties ½; greedy and sampled weighed ½ each)."""
    win_rate_low: float | None = None
    """The lower end of its bootstrap interval."""
    win_rate_high: float | None = None
    """The upper end of its bootstrap interval."""


class WeightDriftStatus(SpecModel):
    """How far the adapter's weights on the probe prompts moved since the previous run."""

    previous_run: str
    """The run compared with."""
    total_variation: float
    """The largest total-variation distance over the shared categories."""
    moved: bool
    """Above the promotion's ``driftThreshold``."""


class AlignmentPipelineStatus(SpecModel):
    """Status of an AlignmentPipeline."""

    observed_generation: int | None = None
    """The ``metadata.generation`` the operator last acted on."""
    phase: PipelinePhase = PipelinePhase.PENDING
    """Pending, Running, Suspended, Succeeded, Failed (or Invalid: the spec breaks a rule)."""
    conditions: list[Condition] = Field(default_factory=list)
    """Conditions ``Valid``, ``Running``, ``Succeeded``, ``Failed`` and ``Suspended``."""
    stage: str = ""
    """The stages running now, for ``kubectl get`` (e.g. ``align, align-baseline``; empty when none is)."""
    progress: str = ""
    """Stages committed of all, for ``kubectl get`` (e.g. ``3/7``)."""
    result: str = ""
    """The outcome in a few words, for ``kubectl get``: the evaluation's win rate (``win rate 0.938``) and,
    with ``spec.promotion``, the gate's decision (``Promoted, win rate 0.910``)."""
    job_backend: str | None = None
    """The kind of job its stages run as (``PyTorchJob`` or ``TrainJob``): ``spec.kubernetes.jobBackend``,
    or for ``auto`` the kind the operator picks (its ``--job-backend``, else what the cluster serves)."""
    stages: list[StageSummary] = Field(default_factory=list)
    """Every stage in dependency order."""
    artifacts: str | None = None
    """The run's artifact root (``<storage.uri>/<namespace>/<pipeline>/<runId>``)."""
    report: str | None = None
    """The evaluation report (``…/eval/report.html``) once the pipeline has succeeded."""
    data: DataSnapshotStatus | None = None
    """What the run pinned when it started."""
    evaluation: EvaluationStatus | None = None
    """The evaluation's win rate, once it committed."""
    promotion: PromotionStatus | None = None
    """The promotion gate's decision (with ``spec.promotion``, once the evaluation committed)."""
    weight_drift: WeightDriftStatus | None = None
    """How the adapter's weights moved since the previous run (with ``spec.promotion``)."""
    start_time: str | None = None
    """When the operator first acted on the pipeline."""
    completion_time: str | None = None
    """When the pipeline succeeded or failed."""


class LastPromoted(SpecModel):
    """A schedule's last promotion."""

    pipeline: str
    """The pipeline whose policy was promoted."""
    run: str
    """Its run id."""
    time: str | None = None
    """When that pipeline finished (RFC 3339)."""
    win_rate: float | None = None
    """The gate's win rate for it."""


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
    last_promoted: LastPromoted | None = None
    """The last pipeline of this schedule whose policy the promotion gate let through."""


__all__ = [
    "AlignmentPipelineStatus",
    "AlignmentScheduleStatus",
    "Condition",
    "ConditionStatus",
    "DataSnapshotStatus",
    "EvaluationStatus",
    "LastPromoted",
    "PipelinePhase",
    "PromotionStatus",
    "StagePhase",
    "StageRunStatus",
    "StageSummary",
    "WeightDriftStatus",
]
