"""The pipeline resource: ``AlignmentPipeline`` (short name ``alp``).

One file names the K objectives, the adapter, the alignment method and the evaluation; the planner
(:mod:`pro.planner.compose`) turns it into one stage resource per stage — reward models in parallel,
then the adapter, then alignment (and its baseline), then evaluation.  The same YAML is applied to a
cluster (``kubectl apply``), run on one machine (``pro run -f``) and sliced into what each stage's
entrypoint reads.  Every default lives here, in the field declarations (``pro explain alp --recursive``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pro.spec.align import AlignmentSettings, WeightChoice, fixed_weight_problems
from pro.spec.base import Resource, SpecModel
from pro.spec.data import DataSource
from pro.spec.evaluation import EvaluationSettings
from pro.spec.execution import (
    DEFAULT_IMAGE,
    KubernetesSettings,
    RetrySettings,
    StageExecution,
    StageResources,
    StorageAccess,
)
from pro.spec.k8s import Image
from pro.spec.model import DeepSpeedSettings, LoraSettings, ModelSource
from pro.spec.paths import PathRef
from pro.spec.promotion import PromotionSettings
from pro.spec.rules import SubPath, problems_at
from pro.spec.stages import AdapterSettings, RewardTrainingSettings

#: an objective name becomes part of a stage name (``rm-<objective>``, '_' as '-'), hence nearly a DNS label
OBJECTIVE_NAME = r"^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"
RUN_ID = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_URI = re.compile(r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?|file:///.*|[^:]+)$")


def reward_stage_name(objective: str) -> str:
    """The stage that trains ``objective``'s reward model."""
    return "rm-" + objective.replace("_", "-")


class StorageSettings(StorageAccess):
    """Where artifacts go.  Credentials are never in the spec: locally the standard AWS chain
    (environment, ``~/.aws``, instance role), on the cluster a Secret or the service account (IRSA)."""

    uri: PathRef = Field(default="pro-store", min_length=1)
    """Store root: ``s3://bucket/prefix``, ``file:///dir`` or a path.  Stage artifacts go to
    ``<uri>/<namespace>/<pipeline>/<runId>/<stage>``; a relative path is relative to the pipeline file's
    directory (the default ``pro-store`` too; on a cluster use ``s3://``)."""

    @field_validator("uri")
    @classmethod
    def _uri_form(cls, uri: str) -> str:
        if uri.startswith("file://") and not uri.startswith("file:///"):
            raise ValueError(
                f"{uri!r}: a file URI needs an absolute path (file:///data/store); a relative path needs no "
                "scheme (pro-store)"
            )
        if not _URI.match(uri):
            raise ValueError(f"{uri!r} is not s3://bucket[/prefix], file:///path or a path")
        return uri


class Objective(SpecModel):
    """One objective: its preference pairs and (optionally) its own reward-model settings."""

    name: str = Field(min_length=1, max_length=50, pattern=OBJECTIVE_NAME)
    """Objective name (e.g. ``helpfulness``), as the preference rows name it: lower-case letters, digits,
    '-' and '_'."""
    data: DataSource
    """Preference pairs for this objective's reward model."""
    eval_data: DataSource | None = None
    """Held-out pairs; default: ``training.evalFraction`` of ``data``."""
    model: ModelSource | None = None
    """Reward-model backbone; default: ``rewardModel.model``."""
    training: RewardTrainingSettings | None = None
    """Optimisation settings; default: ``rewardModel.training``."""
    resources: StageResources | None = None
    """Resources of this reward stage; default: ``rewardModel.resources``."""


class RewardModelSection(SpecModel):
    """Settings shared by every objective's reward model (an objective may override them)."""

    model: ModelSource | None = None
    """Sequence-classification backbone for every objective without its own ``model``."""
    training: RewardTrainingSettings = Field(default_factory=RewardTrainingSettings)
    """Optimisation settings."""
    lora: LoraSettings | None = None
    """Train LoRA adapters instead of the whole backbone."""
    deepspeed: DeepSpeedSettings | None = None
    """Run under DeepSpeed ZeRO."""
    resources: StageResources = Field(default_factory=StageResources)
    """Resources of each reward stage."""


class AdapterSection(AdapterSettings):
    """The prompt adapter; its reward models are the pipeline's own."""

    resources: StageResources = Field(default_factory=StageResources)
    """Resources of the adapter stage."""


class AlignmentSection(AlignmentSettings):
    """Policy alignment with per-prompt weights; reward models and adapter are the pipeline's own."""

    weights: WeightChoice = Field(default_factory=WeightChoice)
    """Per-prompt weights: ``adapter`` (PRO, the default) or a baseline."""
    resources: StageResources = Field(default_factory=StageResources)
    """Resources of the alignment stage (and of the baseline's)."""

    def stage_resources(self) -> tuple[StageResources | None, SubPath]:
        return self.resources, ("resources",)


class Baseline(SpecModel):
    """What the aligned policy is compared with: the same alignment with other weights (the default:
    uniform), or an existing policy artifact."""

    name: str = Field(default="uniform", min_length=1)
    """Label in the report."""
    weights: WeightChoice | None = None
    """Align a baseline policy with these weights (a stage ``align-baseline``, same settings as
    ``alignment`` otherwise); default ``{mode: uniform}`` when ``uri`` is unset."""
    uri: PathRef | None = None
    """Compare with this existing policy artifact instead of training a baseline."""

    @model_validator(mode="after")
    def _one_source(self) -> Baseline:
        if self.weights is not None and self.uri is not None:
            raise problems_at("Baseline", [(("uri",), "set at most one of 'weights' or 'uri'")])
        if self.weights is not None and self.weights.mode == "adapter":
            raise problems_at(
                "Baseline",
                [
                    (
                        ("weights", "mode"),
                        "a baseline's weights cannot be the adapter (that is the policy under test)",
                    )
                ],
            )
        return self

    @property
    def trains(self) -> bool:
        """Whether the pipeline trains this baseline."""
        return self.uri is None

    @property
    def weight_choice(self) -> WeightChoice:
        return self.weights or WeightChoice(mode="uniform")


class EvaluationSection(EvaluationSettings):
    """Compare the aligned policy with a baseline on held-out prompts."""

    baseline: Baseline = Field(default_factory=Baseline)
    """The policy to compare with."""
    resources: StageResources = Field(default_factory=StageResources)
    """Resources of the evaluation stage."""


class AlignmentPipelineSpec(SpecModel):
    """PRO end to end: K reward models → adapter → aligned policy → evaluation."""

    objectives: list[Objective] = Field(min_length=1)
    """The K objectives, in the order of the weight vector."""
    reward_model: RewardModelSection = Field(default_factory=RewardModelSection)
    """Settings shared by every objective's reward model."""
    adapter: AdapterSection | None = None
    """The prompt adapter (required when ``alignment.weights.mode`` is ``adapter``)."""
    alignment: AlignmentSection
    """How the policy is aligned."""
    evaluation: EvaluationSection | None = None
    """Compare the aligned policy with a baseline; unset: no evaluation stage."""
    promotion: PromotionSettings | None = None
    """Gate each run's policy before it replaces the lineage's promoted one, and record the adapter's
    weights for ``pro drift`` (needs ``evaluation``); unset: no gate."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Where artifacts go."""
    run_id: str = Field(default="default", min_length=1, max_length=63, pattern=RUN_ID)
    """Separates runs of the same pipeline in the store.  A run reuses every stage already committed
    under its ``runId`` for the same work; a new ``runId`` (a schedule sets one per firing) starts from
    nothing, e.g. when the data behind an unchanged path has changed."""
    image: Image = DEFAULT_IMAGE
    """Cluster: the trainer image every stage pod runs."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    """Retries of a failed stage."""
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    """Cluster only: which Kubeflow job runs the stages, and how their pods are scheduled."""
    suspend: bool = False
    """Cluster: start no new stage and suspend running jobs until set back to false."""

    @model_validator(mode="after")
    def _check(self) -> AlignmentPipelineSpec:
        names = [o.name for o in self.objectives]
        stage_names = [reward_stage_name(n) for n in names]
        bad: list[tuple[SubPath, str]] = [
            (
                ("objectives", i, "name"),
                f"{n!r} is not distinct (with '_' read as '-') from an earlier objective",
            )
            for i, (n, st) in enumerate(zip(names, stage_names, strict=True))
            if st in stage_names[:i]
        ]
        missing_model = [o.name for o in self.objectives if o.model is None]
        if missing_model and self.reward_model.model is None:
            bad.append((("rewardModel", "model"), (
                f"no reward-model backbone for {', '.join(missing_model)}: set rewardModel.model or the "
                "objective's model"
            )))  # fmt: skip
        bad += fixed_weight_problems(self.alignment.weights, names, ("alignment", "weights"))
        if self.alignment.weights.mode == "adapter" and self.adapter is None:
            bad.append(
                (("alignment", "weights", "mode"), "mode 'adapter' (the default) needs the 'adapter' section")
            )
        if self.evaluation is not None and self.evaluation.baseline.weights is not None:
            bad += fixed_weight_problems(
                self.evaluation.baseline.weights, names, ("evaluation", "baseline", "weights")
            )
        if self.promotion is not None:
            if self.evaluation is None:
                bad.append(
                    (
                        ("promotion",),
                        "promotion needs the 'evaluation' section (the gate runs in the evaluation stage)",
                    )
                )
            bad += [
                (
                    ("promotion", "rule", "maxRegression", o),
                    f"unknown objective {o!r} (the objectives are {', '.join(names)})",
                )
                for o in self.promotion.rule.max_regression
                if o not in names
            ]
        if bad:
            raise problems_at("AlignmentPipelineSpec", bad)
        return self

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]


class AlignmentPipeline(Resource):
    """A PRO alignment pipeline (short name ``alp``)."""

    kind: Literal["AlignmentPipeline"] = "AlignmentPipeline"
    """Always ``AlignmentPipeline``."""
    spec: AlignmentPipelineSpec
    """The objectives, the stages' settings, and where artifacts go."""


__all__ = [
    "AdapterSection",
    "AlignmentPipeline",
    "AlignmentPipelineSpec",
    "AlignmentSection",
    "Baseline",
    "EvaluationSection",
    "Objective",
    "RewardModelSection",
    "StageExecution",
    "StorageSettings",
    "reward_stage_name",
]
