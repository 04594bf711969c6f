"""The evaluation stage resource: ``PolicyEvaluation`` (short name ``pev``).

Policy A vs policy B on held-out prompts, greedy and sampled: win rates with bootstrap intervals by a
judge (the toy world's true utility, a reward model, or a pairwise LLM judge), ties counted ½;
per-category, per-objective, diversity and length numbers; in a toy world each policy's share of the
optimum; ``metrics.json`` and a self-contained ``report.html``.  The ``spec`` section is composed
unchanged into the pipeline spec.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pro.spec.align import WeightSettings
from pro.spec.base import Resource, SpecModel
from pro.spec.data import DataRef, DataSnapshot
from pro.spec.execution import StageExecution
from pro.spec.judge import Judge
from pro.spec.paths import PathRef
from pro.spec.promotion import PromotionGate
from pro.spec.rules import problems_at


class PolicyRef(SpecModel):
    """A policy under evaluation."""

    name: str = Field(min_length=1)
    """Label in the report (e.g. ``pro``, ``uniform``)."""
    uri: PathRef = Field(min_length=1)
    """Policy artifact URI (written by ``PolicyAlignment``)."""
    weights: WeightSettings | None = None
    """Weights written into the prompt for a WIC policy (default: the weights it was trained with)."""


class EvaluationSettings(SpecModel):
    """How to compare policies: prompts, judge and sampling (the part a pipeline's ``evaluation``
    section shares with ``PolicyEvaluation``)."""

    prompts: DataRef
    """Held-out prompts (``{"prompt", "category"?}`` JSONL/Parquet): a data reference (file,
    ``s3://``/``file://`` URI, prefix or glob)."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Evaluate at most this many prompts."""
    judge: Judge
    """Who decides which completion is better (``pro explain pev.spec.judge``)."""
    samples: int = Field(default=4, ge=0)
    """Completions sampled per prompt and policy besides the greedy one (sample i of A is compared with
    sample i of B; best-of-n takes each policy's best by a pointwise judge); 0: greedy only.  The
    headline win rate and the promotion gate weigh greedy and sampled results ½ each, so a collapsed
    greedy decode cannot decide alone."""
    temperature: float | None = Field(default=None, gt=0.0)
    """Sampling temperature; default: the temperature each policy was trained at (its ``policy.json``).
    Greedy decoding is always evaluated too."""
    max_new_tokens: int = Field(default=64, ge=1)
    """Longest completion."""
    seed: int = 0
    """Sampling seed (both policies sample with the same one)."""


class PolicyEvaluationSpec(EvaluationSettings):
    """Compare two policies on held-out prompts."""

    policy_a: PolicyRef
    """The candidate (e.g. PRO)."""
    policy_b: PolicyRef
    """The baseline (e.g. uniform weights)."""
    objectives: list[str] = Field(default_factory=list)
    """Objectives whose mean rewards are reported (with ``rewardModels``)."""
    reward_models: dict[str, PathRef] = Field(default_factory=dict)
    """Reward-model URI per objective, for per-objective mean rewards (optional)."""
    runs: dict[str, PathRef] = Field(default_factory=dict)
    """Extra alignment artifacts (label → URI) whose training curves go into the report."""
    adapter: PathRef | None = None
    """Adapter artifact URI whose weights per prompt category go into the report."""
    promotion: PromotionGate | None = None
    """Gate policy A before it replaces its lineage's promoted policy (a pipeline with ``promotion`` sets
    it); unset: compare only."""
    output: PathRef = Field(min_length=1)
    """Artifact URI the metrics and report are committed to."""
    snapshot: DataSnapshot = Field(default_factory=dict)
    """The objects each data reference of this stage was pinned to when its pipeline's run started (filled
    by the pipeline; leave empty in a hand-written stage, whose references are resolved when read)."""
    execution: StageExecution | None = None
    """Cluster only: image, resources, retries and store access of the stage's PyTorchJob (a pipeline
    fills it in; not part of the stage's digest)."""

    @model_validator(mode="after")
    def _check(self) -> PolicyEvaluationSpec:
        if self.objectives:
            bad = [
                (("rewardModels", o), f"unknown objective {o!r} (objectives: {', '.join(self.objectives)})")
                for o in self.reward_models
                if o not in self.objectives
            ]
            if bad:
                raise problems_at("PolicyEvaluationSpec", bad)
        return self


class PolicyEvaluation(Resource):
    """A policy-evaluation stage (short name ``pev``)."""

    kind: Literal["PolicyEvaluation"] = "PolicyEvaluation"
    """Always ``PolicyEvaluation``."""
    spec: PolicyEvaluationSpec
    """What to compare and where to put the report."""


__all__ = ["EvaluationSettings", "Judge", "PolicyEvaluation", "PolicyEvaluationSpec", "PolicyRef"]
