"""Stage resources: ``RewardModelTraining`` (rmt) and ``AdapterTraining`` (adt).

Each is a complete Kubernetes-style object that ``pro stage <kind> --spec FILE`` runs; its
``spec`` is the section the pipeline spec composes unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pro.spec.base import Resource, SpecModel
from pro.spec.data import DataSnapshot, DataSource
from pro.spec.execution import StageExecution
from pro.spec.model import DeepSpeedSettings, LoraSettings, ModelSource, TokenizerSource, TrainingSettings
from pro.spec.paths import PathRef
from pro.spec.rules import SubPath, problems_at

#: the production adapter backbone named by the paper
DEFAULT_ADAPTER_MODEL = "FacebookAI/xlm-roberta-base"

ObjectiveName = str


def _default_adapter_model() -> ModelSource:
    return ModelSource(name=DEFAULT_ADAPTER_MODEL)


def check_reward_models(objectives: list[str], reward_models: dict[str, str]) -> None:
    """Objectives are distinct and ``rewardModels`` names exactly them (shared by every stage that scores);
    each problem at its own path."""
    bad: list[tuple[SubPath, str]] = [
        (("objectives", i), f"{o!r} is named twice") for i, o in enumerate(objectives) if o in objectives[:i]
    ]
    known = ", ".join(objectives)
    bad += [
        (("rewardModels", o), f"reward model for unknown objective {o!r} (the objectives are {known})")
        for o in reward_models
        if o not in objectives
    ]
    missing = [o for o in objectives if o not in reward_models]
    if missing:
        bad.append(
            (("rewardModels",), f"no reward model for {', '.join(missing)} (name one per objective: {known})")
        )
    if bad:
        raise problems_at("rewardModels", bad)


class RewardTrainingSettings(TrainingSettings):
    """Optimisation settings of a reward model (defaults suit a 0.1–1 B backbone)."""

    learning_rate: float = Field(default=1e-5, gt=0.0, le=1.0)
    """Peak learning rate."""
    center_rewards_coefficient: float | None = Field(default=0.01, ge=0.0)
    """Weight of the reward-centering term ``λ·mean((r_chosen + r_rejected)²)`` (Eisenstein et al.
    2023, TRL's ``center_rewards_coefficient``).  Bradley–Terry training fixes only differences within
    a prompt; PRO compares one reward model's scores across prompts (z-scores, target weights), so
    centering pins each prompt's offset near 0.  ``null`` turns it off."""


class AdapterTrainingSettings(TrainingSettings):
    """Optimisation settings of the prompt adapter (defaults suit xlm-roberta-base)."""

    per_device_batch_size: int = Field(default=16, ge=1)
    """Examples per process per forward pass."""
    max_length: int = Field(default=256, ge=8)
    """Longest tokenised prompt; longer prompts are truncated."""


class RewardModelTrainingSpec(SpecModel):
    """Train one Bradley–Terry reward model on one objective's preference pairs."""

    objective: str = Field(min_length=1)
    """The objective this reward model scores (e.g. ``helpfulness``)."""
    data: DataSource
    """Preference pairs for this objective (rows of other objectives are ignored)."""
    eval_data: DataSource | None = None
    """Held-out pairs for pairwise accuracy; default: ``training.evalFraction`` of ``data``."""
    model: ModelSource
    """Sequence-classification backbone (a scalar head is added: ``num_labels = 1``)."""
    training: RewardTrainingSettings = Field(default_factory=RewardTrainingSettings)
    """Optimisation settings."""
    lora: LoraSettings | None = None
    """Train LoRA adapters instead of the whole backbone."""
    deepspeed: DeepSpeedSettings | None = None
    """Run under DeepSpeed ZeRO."""
    output: PathRef = Field(min_length=1)
    """Artifact URI (``s3://…``, ``file:///…`` or a path) the trained reward model is committed to."""
    snapshot: DataSnapshot = Field(default_factory=dict)
    """The objects each data reference of this stage was pinned to when its pipeline's run started (filled
    by the pipeline; leave empty in a hand-written stage, whose references are resolved when read)."""
    execution: StageExecution | None = None
    """Cluster only: image, resources, retries and store access of the stage's PyTorchJob (a pipeline
    fills it in; not part of the stage's digest)."""


class RewardModelTraining(Resource):
    """A reward-model training stage (short name ``rmt``)."""

    kind: Literal["RewardModelTraining"] = "RewardModelTraining"
    """Always ``RewardModelTraining``."""
    spec: RewardModelTrainingSpec
    """What to train and where to put it."""


class AdapterHead(SpecModel):
    """How the adapter turns the encoder's token states into K weights."""

    pooling: Literal["mean", "cls"] = "mean"
    """Mean over non-padding tokens, or the first token's state."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout before the linear layer."""


class AdapterSettings(SpecModel):
    """How to train the prompt adapter: everything but the objectives, reward models and output (the
    part a pipeline's ``adapter`` section shares with ``AdapterTraining``)."""

    data: DataSource
    """The mixed preference set: each row's *chosen* response carries the implicit trade-off."""
    eval_data: DataSource | None = None
    """Held-out rows; default: ``training.evalFraction`` of ``data`` (split by prompt)."""
    tau: float = Field(default=0.1, gt=0.0)
    """Target temperature: ``w* = softmax(z / tau)``."""
    target_normalization: Literal["dataset", "recorded", "none"] = "dataset"
    """How reward scores become z-scores for the targets: over this data set's preferred responses
    (``dataset``, as Rewards-in-Context normalises), with each reward model's recorded statistics
    (``recorded``), or not at all (``none``: raw scores, for ablations — ``bench/znorm.py``)."""
    model: ModelSource = Field(default_factory=_default_adapter_model)
    """Encoder backbone (``AutoModel``)."""
    head: AdapterHead = Field(default_factory=AdapterHead)
    """Pooling and head settings."""
    training: AdapterTrainingSettings = Field(default_factory=AdapterTrainingSettings)
    """Optimisation settings."""
    deepspeed: DeepSpeedSettings | None = None
    """Run under DeepSpeed ZeRO."""


class AdapterTrainingSpec(AdapterSettings):
    """Train the prompt adapter: prompt → weights on the K-simplex, KL(w* ‖ w(x))."""

    objectives: list[ObjectiveName] = Field(min_length=1)
    """The K objectives, in the order of the weight vector."""
    reward_models: dict[ObjectiveName, PathRef]
    """Reward-model artifact URI per objective (one for every name in ``objectives``)."""
    output: PathRef = Field(min_length=1)
    """Artifact URI the trained adapter is committed to."""
    snapshot: DataSnapshot = Field(default_factory=dict)
    """The objects each data reference of this stage was pinned to when its pipeline's run started (filled
    by the pipeline; leave empty in a hand-written stage, whose references are resolved when read)."""
    execution: StageExecution | None = None
    """Cluster only: image, resources, retries and store access of the stage's PyTorchJob (a pipeline
    fills it in; not part of the stage's digest)."""

    @model_validator(mode="after")
    def _models_match_objectives(self) -> AdapterTrainingSpec:
        check_reward_models(self.objectives, self.reward_models)
        return self


class AdapterTraining(Resource):
    """An adapter training stage (short name ``adt``)."""

    kind: Literal["AdapterTraining"] = "AdapterTraining"
    """Always ``AdapterTraining``."""
    spec: AdapterTrainingSpec
    """What to train and where to put it."""


StageResource = RewardModelTraining | AdapterTraining

__all__ = [
    "DEFAULT_ADAPTER_MODEL",
    "AdapterHead",
    "AdapterSettings",
    "AdapterTraining",
    "AdapterTrainingSettings",
    "AdapterTrainingSpec",
    "DeepSpeedSettings",
    "LoraSettings",
    "ModelSource",
    "RewardModelTraining",
    "RewardModelTrainingSpec",
    "RewardTrainingSettings",
    "StageResource",
    "TokenizerSource",
    "TrainingSettings",
]
