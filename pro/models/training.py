"""Hugging Face trainer settings from a stage's spec: ``TrainingArguments`` keyword arguments, the
DeepSpeed config and peft's ``LoraConfig`` (shared by every stage that trains and by the MORLHF trainer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pro.spec.model import DeepSpeedSettings, LoraSettings, TrainingSettings


def lora_config(settings: LoraSettings | None, task: str, *, default_targets: str | None = None) -> Any:
    """peft's ``LoraConfig`` for a stage's ``lora`` settings (None when LoRA is off).

    ``task`` is a peft ``TaskType`` name (``SEQ_CLS``, ``CAUSAL_LM``); ``default_targets`` applies when
    the spec names no target modules (None: peft's per-architecture default).
    """
    if settings is None:
        return None
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType[task],
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules or default_targets,
    )


def deepspeed_config(settings: DeepSpeedSettings) -> dict[str, Any]:
    """A DeepSpeed config for ``TrainingArguments(deepspeed=...)`` ("auto" values filled by transformers)."""
    if settings.config is not None:
        return dict(settings.config)
    zero: dict[str, Any] = {"stage": settings.stage}
    if settings.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu"}
    if settings.offload_params:
        zero["offload_param"] = {"device": "cpu"}
    if settings.stage == 3:
        # every stage saves its full model at the end: ZeRO-3 must gather the shards for that
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "zero_optimization": zero,
        # torch's AdamW: no cpu_adam extension to compile (see design notes §3)
        "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto", "torch_adam": True}},
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
    }


#: the package(s) each tracker needs (any one of them)
TRACKER_PACKAGES = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "mlflow": ("mlflow",),
    "wandb": ("wandb",),
}


def check_trackers(training: TrainingSettings) -> None:
    """Every tracker of ``reportTo`` can be imported (else one line naming the field, before training)."""
    import importlib.util

    from pro.errors import UserError

    for tracker in training.report_to:
        packages = TRACKER_PACKAGES[tracker]
        if not any(importlib.util.find_spec(p) is not None for p in packages):
            raise UserError(
                f"training.reportTo: {tracker} needs the {' or '.join(packages)} package, which is not installed"
            )


def training_arguments_kwargs(
    training: TrainingSettings, work_dir: Path, deepspeed: DeepSpeedSettings | None
) -> dict[str, Any]:
    """Keyword arguments shared by ``RewardConfig`` and ``TrainingArguments`` (precision per
    :mod:`pro.models.device`: bf16 autocast on a bf16 GPU)."""
    import torch

    from pro.models.device import training_precision_kwargs

    check_trackers(training)
    kwargs: dict[str, Any] = {
        "output_dir": str(work_dir),
        "max_steps": training.max_steps,
        "learning_rate": training.learning_rate,
        "per_device_train_batch_size": training.per_device_batch_size,
        "per_device_eval_batch_size": training.eval_batch_size,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "warmup_steps": int(training.warmup_ratio * training.max_steps),
        "weight_decay": training.weight_decay,
        "lr_scheduler_type": training.scheduler,
        "seed": training.seed,
        "data_seed": training.seed,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": list(training.report_to),
        "logging_steps": max(1, training.max_steps // 10),
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        **training_precision_kwargs(),
    }
    if deepspeed is not None:
        kwargs["deepspeed"] = deepspeed_config(deepspeed)
    return kwargs
