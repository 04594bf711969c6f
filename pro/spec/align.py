"""The alignment stage resource: ``PolicyAlignment`` (short name ``pal``).

PRO-MORLHF (``method: morlhf``): RL (TRL GRPO or RLOO) on ``r(x, y) = Σ_k w_k(x) · z_k(x, y)``;
PRO-WIC (``method: wic``): weights written into the prompt, offline SFT then online rejection sampling.
``weights.mode`` switches between the adapter (PRO) and the baselines, so every comparison runs through
the same code.  The ``spec`` section is composed unchanged into the pipeline spec.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pro.spec.base import Resource, SpecModel
from pro.spec.data import DataRef, DataSnapshot, DataSource
from pro.spec.execution import StageExecution, StageResources
from pro.spec.model import DeepSpeedSettings, LoraSettings, ModelSource, TrainingSettings
from pro.spec.paths import PathRef
from pro.spec.rules import SubPath, problems_at
from pro.spec.stages import check_reward_models

Problems = list[tuple[SubPath, str]]

WeightMode = Literal["adapter", "uniform", "fixed", "oracle"]


class WeightChoice(SpecModel):
    """Where the per-prompt objective weights ``w(x)`` come from (computed once per prompt); in a
    pipeline the adapter is the pipeline's own adapter stage."""

    mode: WeightMode = "adapter"
    """``adapter`` (PRO: the trained prompt adapter), ``uniform`` (1/K), ``fixed`` (``fixed`` vector) or
    ``oracle`` (toy world only: the hidden true weights of ``world``)."""
    fixed: dict[str, float] | None = None
    """Objective → weight (``mode: fixed``); normalised to sum 1."""
    world: PathRef | None = None
    """Toy-world directory or world.yaml (``mode: oracle``)."""
    floor: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Mix every row with uniform: ``w ← (1 − floor) · w + floor / K``.  Keeps every reward model in the
    combined reward (a near one-hot adapter otherwise lets the policy over-optimise a single RM)."""

    @model_validator(mode="after")
    def _mode_inputs(self) -> WeightChoice:
        bad: Problems = []
        if self.mode == "fixed":
            if not self.fixed:
                bad.append((("fixed",), "mode 'fixed' needs 'fixed' (a weight per objective)"))
            elif any(v < 0 for v in self.fixed.values()) or sum(self.fixed.values()) <= 0:
                bad.append((("fixed",), "'fixed' weights must be ≥ 0 with a positive sum"))
        elif self.fixed is not None:
            bad.append(
                (("fixed",), f"applies only to mode 'fixed' (mode is {self.mode!r}, which ignores it)")
            )
        if self.mode == "oracle" and not self.world:
            bad.append((("world",), "mode 'oracle' needs 'world' (a toy-world directory)"))
        elif self.mode != "oracle" and self.world is not None:
            bad.append(
                (("world",), f"applies only to mode 'oracle' (mode is {self.mode!r}, which ignores it)")
            )
        if bad:
            raise problems_at("WeightChoice", bad)
        return self


class WeightSettings(WeightChoice):
    """Where the per-prompt objective weights ``w(x)`` come from (computed once per prompt)."""

    adapter: PathRef | None = None
    """Adapter artifact URI (``mode: adapter``)."""

    @model_validator(mode="after")
    def _adapter_uri(self) -> WeightSettings:
        if self.mode == "adapter" and not self.adapter:
            raise problems_at(
                "WeightSettings",
                [(("adapter",), "mode 'adapter' needs 'adapter' (the adapter artifact URI)")],
            )
        if self.mode != "adapter" and self.adapter is not None:
            raise problems_at(
                "WeightSettings",
                [(("adapter",), f"applies only to mode 'adapter' (mode is {self.mode!r}, which ignores it)")],
            )
        return self


class GenerationSettings(SpecModel):
    """How the policy samples completions during training."""

    temperature: float = Field(default=0.7, gt=0.0)
    """Sampling temperature."""
    max_new_tokens: int = Field(default=128, ge=1)
    """Longest completion, in tokens."""
    num_generations: int = Field(default=4, ge=2)
    """Completions per prompt (the GRPO/RLOO group; the WIC candidates per prompt)."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling threshold."""


class PolicyInit(SpecModel):
    """Supervised start of a config-built policy: SFT on prompt/completion records."""

    data: DataRef
    """JSONL/Parquet ``{"prompt", "completion"}`` records (e.g. the toy world's sft.jsonl): a data
    reference (file, ``s3://``/``file://`` URI, prefix or glob)."""
    steps: int = Field(default=300, ge=1)
    """Optimizer steps."""
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    """Learning rate."""
    batch_size: int = Field(default=32, ge=1)
    """Records per step."""


class WicSettings(SpecModel):
    """PRO-WIC: weights in the prompt, offline SFT, online rejection sampling."""

    template: str = "<w:{objective}={weight:.1f}>"
    """One tag per objective, formatted with ``objective`` and ``weight``; the tags are prepended to the
    prompt in objective order."""
    offline_data: DataSource | None = None
    """Preference data for the offline stage (chosen responses conditioned on their target weights)."""
    offline_rejected: bool = True
    """Also train on each pair's rejected response, conditioned on its own target weights, so the same
    prompt is seen under different tags (otherwise the tags only restate the prompt's category)."""
    offline_steps: int = Field(default=200, ge=0)
    """Offline SFT steps."""
    online_steps: int = Field(default=5000, ge=0)
    """Online rejection-sampling rounds (5000 in production configs, a few in tests)."""
    prompts_per_round: int = Field(default=32, ge=1)
    """Prompts sampled per online round."""
    exploration: float = Field(default=0.1, ge=0.0)
    """Dirichlet-style noise mixed into the adapter weights when sampling candidates."""
    online_learning_rate: float = Field(default=1e-4, gt=0.0, le=1.0)
    """Learning rate of the online SFT steps (one AdamW kept across rounds); the offline stage uses
    ``training.learningRate``."""
    keep_top: int = Field(default=1, ge=1)
    """Best candidates kept per prompt (by combined reward)."""


class AlignmentTrainingSettings(TrainingSettings):
    """Optimisation settings of the RL stage (``maxSteps`` = RL steps)."""

    max_steps: int = Field(default=200, ge=1)
    """RL optimizer steps (``morlhf``); WIC counts ``wic.onlineSteps`` instead."""
    learning_rate: float = Field(default=1e-5, gt=0.0, le=1.0)
    """Peak learning rate."""
    per_device_batch_size: int = Field(default=16, ge=1)
    """Completions per process per step (a multiple of ``generation.numGenerations``)."""


class AlignmentSettings(SpecModel):
    """How to align the policy: everything but the objectives, reward models, weights and output (the
    part a pipeline's ``alignment`` section shares with ``PolicyAlignment``)."""

    method: Literal["morlhf", "wic"] = "morlhf"
    """``morlhf`` (RL on the combined reward) or ``wic`` (weights in context + rejection sampling)."""
    algorithm: Literal["grpo", "rloo"] = "grpo"
    """TRL trainer for ``morlhf`` (PPO left TRL after 1.12)."""
    policy: ModelSource
    """The policy (a causal LM); a config-built one needs ``init``."""
    init: PolicyInit | None = None
    """SFT a config-built policy before alignment."""
    prompts: DataSource | DataRef
    """Training prompts: ``{"prompt"}`` JSONL/Parquet records (a data reference) or a preference
    DataSource."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Use at most this many distinct prompts."""
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    """Sampling settings."""
    beta: float = Field(default=0.04, ge=0.0)
    """KL coefficient to the reference (starting) policy."""
    training: AlignmentTrainingSettings = Field(default_factory=AlignmentTrainingSettings)
    """Optimisation settings (``maxSteps`` = RL steps)."""
    lora: LoraSettings | None = None
    """Train LoRA adapters instead of the whole policy."""
    deepspeed: DeepSpeedSettings | None = None
    """Run under DeepSpeed ZeRO."""
    wic: WicSettings = Field(default_factory=WicSettings)
    """PRO-WIC settings (``method: wic``)."""
    checkpoint_every: int = Field(default=0, ge=0)
    """Commit a checkpoint to ``<output>-checkpoints`` every this many steps (0: never); a restarted stage
    resumes from the last checkpoint committed for the same work."""
    world: PathRef | None = None
    """Toy world (directory) for monitoring: logs the true utility of training samples."""

    @model_validator(mode="after")
    def _check(self) -> AlignmentSettings:
        bad: Problems = []
        if self.policy.config is not None and self.init is None:
            bad.append((("init",), "a config-built policy needs 'init' (SFT data for a starting policy)"))
        if self.method == "wic" and self.training.report_to:
            bad.append(
                (("training", "reportTo"), "method 'wic' runs its own loop, which logs to no tracker yet")
            )
        bad += self.method_problems()
        resources, at = self.stage_resources()
        if resources is not None:
            bad += single_process_problems(self.method, resources, at)
        if bad:
            raise problems_at("AlignmentSettings", bad)
        return self

    def stage_resources(self) -> tuple[StageResources | None, SubPath]:
        """The resources the alignment stage runs with, and their path (None: not known here)."""
        return None, ()

    def method_problems(self) -> Problems:
        """Settings the chosen ``method`` cannot use (each would be ignored), and the batch rule of GRPO/RLOO."""
        bad: Problems = []
        tr, gen = self.training, self.generation
        if self.method == "morlhf":
            if tr.per_device_batch_size % gen.num_generations:
                at = ("training", "perDeviceBatchSize")
                if "per_device_batch_size" not in tr.model_fields_set:
                    at = ("generation", "numGenerations")
                bad.append((at, (
                    f"training.perDeviceBatchSize {tr.per_device_batch_size} is not a multiple of "
                    f"generation.numGenerations {gen.num_generations} (GRPO/RLOO sample numGenerations "
                    "completions of each prompt in a batch)"
                )))  # fmt: skip
            if self.wic != WicSettings():
                bad.append((("wic",), "applies only to method 'wic' (method 'morlhf' ignores it)"))
            return bad
        ignored = " (method 'wic' ignores it: it applies only to method 'morlhf')"
        morlhf_only = [
            (("algorithm",), self.algorithm != "grpo"),
            (("beta",), self.beta != type(self).model_fields["beta"].default),
            (("lora",), self.lora is not None),
            (("deepspeed",), self.deepspeed is not None),
            (("checkpointEvery",), self.checkpoint_every != 0),
        ]
        bad += [(at, f"{at[-1]} is set{ignored}") for at, is_set in morlhf_only if is_set]
        defaults = AlignmentTrainingSettings()
        for name in ("max_steps", "gradient_accumulation_steps", "warmup_ratio", "weight_decay", "scheduler"):
            if getattr(tr, name) != getattr(defaults, name):
                alias = type(tr).model_fields[name].alias or name
                hint = "; WIC runs wic.onlineSteps rounds" if name == "max_steps" else ""
                bad.append((("training", alias), f"training.{alias} is set{ignored}{hint}"))
        return bad


def single_process_problems(method: str, resources: StageResources, at: SubPath) -> Problems:
    """Method ``wic`` runs in one process: more replicas or processes would fail the stage every time."""
    if method != "wic":
        return []
    return [
        ((*at, alias), f"{value}: method 'wic' runs in one process (use method 'morlhf' to train on several)")
        for alias, value in (
            ("replicas", resources.replicas),
            ("processesPerNode", resources.processes_per_node),
        )
        if value > 1
    ]


def fixed_weight_problems(weights: WeightChoice, objectives: list[str], at: SubPath) -> Problems:
    """``fixed`` weights name exactly the objectives: each unknown one at its own key, missing ones at
    ``fixed`` (``at``: the path of ``weights``)."""
    if weights.fixed is None:
        return []
    known = ", ".join(objectives)
    bad: Problems = [
        ((*at, "fixed", name), f"unknown objective {name!r} (the objectives are {known})")
        for name in weights.fixed
        if name not in objectives
    ]
    missing = [o for o in objectives if o not in weights.fixed]
    if missing:
        bad.append(
            (
                (*at, "fixed"),
                f"no weight for objective {', '.join(missing)} (give every objective one: {known})",
            )
        )
    return bad


class PolicyAlignmentSpec(AlignmentSettings):
    """Align a causal-LM policy to K objectives with per-prompt weights."""

    objectives: list[str] = Field(min_length=1)
    """The K objectives, in the order of the weight vector."""
    reward_models: dict[str, PathRef]
    """Reward-model artifact URI per objective."""
    weights: WeightSettings
    """Per-prompt weights: the adapter or a baseline."""
    output: PathRef = Field(min_length=1)
    """Artifact URI the aligned policy is committed to."""
    snapshot: DataSnapshot = Field(default_factory=dict)
    """The objects each data reference of this stage was pinned to when its pipeline's run started (filled
    by the pipeline; leave empty in a hand-written stage, whose references are resolved when read)."""
    execution: StageExecution | None = None
    """Cluster only: image, resources, retries and store access of the stage's PyTorchJob (a pipeline
    fills it in; not part of the stage's digest)."""

    def stage_resources(self) -> tuple[StageResources | None, SubPath]:
        return (self.execution.resources if self.execution else None), ("execution", "resources")

    @model_validator(mode="after")
    def _check_objectives(self) -> PolicyAlignmentSpec:
        check_reward_models(self.objectives, self.reward_models)
        bad = fixed_weight_problems(self.weights, self.objectives, ("weights",))
        if bad:
            raise problems_at("PolicyAlignmentSpec", bad)
        return self


class PolicyAlignment(Resource):
    """A policy-alignment stage (short name ``pal``)."""

    kind: Literal["PolicyAlignment"] = "PolicyAlignment"
    """Always ``PolicyAlignment``."""
    spec: PolicyAlignmentSpec
    """What to align, how, and where to put it."""


__all__ = [
    "AlignmentSettings",
    "AlignmentTrainingSettings",
    "GenerationSettings",
    "PolicyAlignment",
    "PolicyAlignmentSpec",
    "PolicyInit",
    "WeightChoice",
    "WeightMode",
    "WeightSettings",
    "WicSettings",
    "fixed_weight_problems",
    "single_process_problems",
]
