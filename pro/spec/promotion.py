"""The promotion gate: does a run's new policy replace the one in production?

A pipeline's ``promotion`` section names the baseline (the last promoted policy of its lineage, or a given
policy URI), the judge and the rule.  The evaluation stage compares the new policy with the baseline and,
on a pass, moves the lineage's ``promoted.json`` pointer to the new policy with a conditional write (the
pointer stays byte-identical on a fail, and a run that lost a race never overwrites the winner).  The first
run of a lineage, with nothing promoted yet, promotes when it beats its own evaluation baseline.

Each run also records the adapter's weights on a fixed probe set (``probe``, default the evaluation
prompts), so ``pro drift`` can show how they move between runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from pro.spec.base import SpecModel
from pro.spec.data import DataObject, DataRef
from pro.spec.judge import Judge
from pro.spec.paths import LocalPath, PathRef

#: the pointer object under a lineage's root
POINTER = "promoted.json"
#: run records under a lineage's root: ``runs/<runId>.json``
RUNS = "runs"


#: the promotion baseline that means the lineage's promoted policy
LAST_PROMOTED = "lastPromoted"
BaselineRef = Annotated[str, LocalPath(keywords=(LAST_PROMOTED,))]
"""A policy artifact URI (a path: relative to the file) or :data:`LAST_PROMOTED`."""


class PromotionRule(SpecModel):
    """When the new policy passes."""

    min_win_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    """The new policy's win rate against the baseline (ties ½) must reach this."""
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0)
    """When set, the lower end of the win rate's bootstrap interval at this level (e.g. 0.95) must reach
    ``minWinRate``, not just the point estimate."""
    max_regression: dict[str, float] = Field(default_factory=dict)
    """Per objective: how far its mean z-scored reward may fall below the baseline's (needs the
    pipeline's reward models; e.g. ``{harmlessness: 0.1}``)."""

    @model_validator(mode="after")
    def _positive(self) -> PromotionRule:
        bad = [o for o, v in self.max_regression.items() if v < 0]
        if bad:
            raise ValueError(f"maxRegression must be 0 or more (objective {', '.join(bad)})")
        return self


class PromotionSettings(SpecModel):
    """Gate a run's policy before it replaces the lineage's promoted one (the pipeline's ``promotion``)."""

    baseline: BaselineRef = Field(default=LAST_PROMOTED, min_length=1)
    """``lastPromoted`` (the lineage's promoted policy; the run's own evaluation baseline while none is)
    or a policy artifact URI."""
    judge: Judge | None = None
    """Who compares the two policies; default: the evaluation's judge."""
    rule: PromotionRule = Field(default_factory=PromotionRule)
    """When the new policy passes."""
    probe: DataRef | None = None
    """Prompts (``{"prompt", "category"?}``) the adapter's weights are recorded on for ``pro drift``;
    default: the evaluation prompts."""
    drift_threshold: float = Field(default=0.2, gt=0.0, le=1.0)
    """A run whose mean weights (per category) moved more than this total-variation distance from the
    previous run's is flagged (``WeightDrift``)."""
    warm_start: bool = False
    """Start the alignments from the lineage's promoted policy (as pinned when the run started) instead of
    ``alignment.policy`` and its ``init``; the first run, with nothing promoted, starts as configured."""


class PromotedPolicy(SpecModel):
    """What a lineage's ``promoted.json`` says: the policy in production and how it was made (lineage)."""

    policy: str
    """The promoted policy artifact."""
    adapter: str | None = None
    """The adapter that weighted its training, if any."""
    reward_models: dict[str, str] = Field(default_factory=dict)
    """The reward model per objective it was aligned with."""
    snapshot: str | None = None
    """The run's ``snapshot.json`` (everything it pinned when it started)."""
    data: dict[str, list[DataObject]] = Field(default_factory=dict)
    """The data the run read: reference → pinned objects (from its snapshot)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """The gate's numbers (win rate, its interval, per-objective changes)."""
    run: str
    """The run id that promoted it."""
    pipeline: str
    """The pipeline that ran it."""
    scheduled_time: str | None = None
    """The run's scheduled time (RFC 3339)."""
    promoted_at: str
    """When the pointer moved (RFC 3339)."""
    previous: str | None = None
    """The policy it replaced."""


class DriftFromPrevious(SpecModel):
    """How far a run's weights moved from the previous run's."""

    previous_run: str
    """The run compared with."""
    total_variation: float
    """The largest total-variation distance over the categories both runs saw (0: identical, 1: disjoint)."""
    moved: bool
    """Whether it exceeds the threshold (a ``WeightDrift`` Event)."""


class RunRecord(SpecModel):
    """One run of a lineage as ``pro drift`` reads it (``runs/<runId>.json``)."""

    run: str
    """The run id."""
    pipeline: str
    """The pipeline that ran it."""
    scheduled_time: str | None = None
    """Its scheduled time (RFC 3339); runs are ordered by it."""
    recorded_at: str
    """When the record was written (RFC 3339)."""
    objectives: list[str]
    """The objectives, in weight order."""
    prompts: int
    """Probe prompts the weights were computed on."""
    weights: dict[str, dict[str, float]]
    """Mean adapter weight per objective, per probe category (``all`` when rows carry none)."""
    decision: str | None = None
    """The promotion decision of the run (``Promoted``, ``Rejected``, ``Superseded``)."""
    drift: DriftFromPrevious | None = None
    """The move from the previous run's weights (None for a lineage's first run)."""


class PromotionGate(SpecModel):
    """The gate as the evaluation stage runs it (composed from the pipeline's ``promotion``)."""

    rule: PromotionRule = Field(default_factory=PromotionRule)
    """When the new policy passes."""
    judge: Judge | None = None
    """Who compares the two policies; default: the evaluation's judge."""
    baseline: PathRef | None = None
    """The policy to beat; None: the evaluation's own baseline (nothing promoted yet)."""
    lineage: PathRef
    """The lineage's store root (``promoted.json`` and ``runs/`` live there)."""
    snapshot: PathRef | None = None
    """The run's ``snapshot.json`` (its data goes into the pointer)."""
    pointer_etag: str | None = None
    """The version of ``promoted.json`` the run started from (None: there was none); the pointer moves
    only if it is still that version."""
    run: str
    """This run's id (recorded in the pointer and the run record)."""
    pipeline: str
    """This pipeline's name."""
    scheduled_time: str | None = None
    """This run's scheduled time (RFC 3339)."""
    probe: DataRef
    """Prompts the adapter's weights are recorded on."""
    drift_threshold: float = Field(default=0.2, gt=0.0, le=1.0)
    """Total variation that counts as drift."""


__all__ = [
    "POINTER",
    "RUNS",
    "DriftFromPrevious",
    "PromotedPolicy",
    "PromotionGate",
    "PromotionRule",
    "PromotionSettings",
    "RunRecord",
]
