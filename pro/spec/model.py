"""Model, tokenizer and training settings shared by every training stage.

Pure pydantic: these sections are composed unchanged into the stage resources
(:mod:`pro.spec.stages`) and, later, into the pipeline spec.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pro.spec.base import SpecModel
from pro.spec.paths import ModelName
from pro.spec.rules import SubPath, problems_at


class TokenizerBuild(SpecModel):
    """Build a tokenizer locally from the stage's training texts (no hub access needed)."""

    kind: Literal["wordlevel", "bpe"] = "wordlevel"
    """``wordlevel`` (one id per lower-cased word) or ``bpe`` (byte-level BPE)."""
    from_data: bool = True
    """Learn the vocabulary from the stage's training texts (the only source supported so far)."""
    vocab_size: int = Field(default=4000, ge=16, le=1_000_000)
    """Largest vocabulary to keep, special tokens included."""
    lowercase: bool = True
    """Lower-case text before tokenising."""

    @model_validator(mode="after")
    def _from_data(self) -> TokenizerBuild:
        if not self.from_data:
            raise problems_at("TokenizerBuild", [(("fromData",), "only fromData: true is supported so far")])
        return self


class TokenizerSource(SpecModel):
    """Where a tokenizer comes from: a hub id / local path, or built locally."""

    name: ModelName | None = None
    """A Hugging Face id or a local directory (``./dir``, ``../dir`` or absolute; relative to the file) loaded
    with ``AutoTokenizer.from_pretrained``."""
    build: TokenizerBuild | None = None
    """Build a tokenizer from the training texts instead."""

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenizerSource:
        if (self.name is None) == (self.build is None):
            raise ValueError("set exactly one of 'name' or 'build'")
        return self


class ModelSource(SpecModel):
    """A backbone: a pretrained model (``name``) or a model built from a config (``config``)."""

    name: ModelName | None = None
    """A Hugging Face id (e.g. ``FacebookAI/xlm-roberta-base``) or a local directory (``./dir``, ``../dir``
    or absolute; relative to the file)."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) when ``name`` is a hub id."""
    config: dict[str, Any] | None = None
    """A transformers config for a freshly initialised model, e.g. ``{modelType: bert, hiddenSize: 48}``;
    camelCase keys are accepted and turned into the snake_case transformers expects."""
    tokenizer: TokenizerSource | None = None
    """The tokenizer; defaults to the one saved with ``name``. Required with ``config``."""

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        if (self.name is None) == (self.config is None):
            raise ValueError("set exactly one of 'name' or 'config'")
        bad: list[tuple[SubPath, str]] = []
        if self.config is not None:
            if "modelType" not in self.config and "model_type" not in self.config:
                bad.append(
                    (("config",), "'config' needs 'modelType' (e.g. bert, roberta, xlm-roberta, llama)")
                )
            if self.tokenizer is None:
                bad.append(
                    (("tokenizer",), "a config-built model needs 'tokenizer' (a name, or build: {...})")
                )
            if self.revision is not None:
                bad.append((("revision",), "applies only to 'name' (a hub model), not to a config-built one"))
        if bad:
            raise problems_at("ModelSource", bad)
        return self


class LoraSettings(SpecModel):
    """Train LoRA adapters (peft) instead of the full backbone."""

    r: int = Field(default=8, ge=1)
    """Rank of the low-rank update."""
    alpha: int = Field(default=16, ge=1)
    """Scaling numerator (``lora_alpha``)."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""
    target_modules: list[str] | None = None
    """Module names to adapt; default: peft's choice for the architecture."""


class DeepSpeedSettings(SpecModel):
    """Train under DeepSpeed ZeRO (passed to ``TrainingArguments(deepspeed=...)``)."""

    stage: Literal[0, 1, 2, 3] = 2
    """ZeRO stage."""
    offload_optimizer: bool = False
    """Keep optimizer state in CPU memory."""
    offload_params: bool = False
    """Keep parameters in CPU memory (stage 3 only)."""
    config: dict[str, Any] | None = None
    """A full DeepSpeed config; when set it is passed through unchanged and the fields above are ignored."""

    @model_validator(mode="after")
    def _offload_params_needs_stage3(self) -> DeepSpeedSettings:
        if self.config is not None:
            ignored = [
                ((alias,), f"{alias} is ignored when 'config' (a full DeepSpeed config) is set: put it there")
                for name, alias, default in (
                    ("stage", "stage", 2),
                    ("offload_optimizer", "offloadOptimizer", False),
                    ("offload_params", "offloadParams", False),
                )
                if getattr(self, name) != default
            ]
            if ignored:
                raise problems_at("DeepSpeedSettings", ignored)
        elif self.offload_params and self.stage != 3:
            raise problems_at("DeepSpeedSettings", [(("offloadParams",), "offloadParams needs stage: 3")])
        return self


class TrainingSettings(SpecModel):
    """Optimisation settings of a training stage."""

    max_steps: int = Field(default=1000, ge=1)
    """Optimizer steps."""
    learning_rate: float = Field(default=2e-5, gt=0.0, le=1.0)
    """Peak learning rate."""
    per_device_batch_size: int = Field(default=8, ge=1)
    """Examples per process per forward pass."""
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    """Forward passes per optimizer step."""
    max_length: int = Field(default=512, ge=8)
    """Longest tokenised input; longer inputs are truncated (adapter) or dropped (reward model)."""
    seed: int = 0
    """Seed for initialisation, shuffling and the evaluation split."""
    eval_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Share of the data held out for evaluation when no ``evalData`` is given."""
    warmup_ratio: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of the steps spent warming up the learning rate."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    """AdamW weight decay."""
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    """Learning-rate schedule after warm-up."""
    eval_batch_size: int = Field(default=64, ge=1)
    """Batch size for scoring and evaluation (inference only)."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads per process (``torch.set_num_threads``); default: torch's choice."""
    report_to: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(default_factory=list)
    """Experiment trackers the trainer logs to (loss, learning rate, and in alignment each objective's
    mean z-scored reward and mean weight); each is configured by its own environment variables
    (``TENSORBOARD_LOGGING_DIR``; ``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``; ``WANDB_PROJECT``,
    ``WANDB_API_KEY``), e.g. set on the stage's pods.  Needs the tracker's package in the image."""
