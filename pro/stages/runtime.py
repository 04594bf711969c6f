"""What every stage shares: the torchrun environment, seeding, training arguments, committing outputs.

Only the torchrun environment is read (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, …),
so the same command runs under ``torchrun --standalone`` on a laptop and in a PyTorchJob pod.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pro.planner.compose import work_digest
from pro.spec import Resource, dump_yaml
from pro.spec.model import DeepSpeedSettings, LoraSettings, TrainingSettings

SPEC_FILE = "stage.yaml"
#: where a stage reports ``{"step", "total"}`` for ``pro run``'s progress lines (unset in pods)
PROGRESS_ENV = "PRO_PROGRESS_FILE"


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a torchrun job (a single process when not under torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> DistEnv:
        e = os.environ if env is None else env
        return cls(
            rank=int(e.get("RANK", "0")),
            world_size=int(e.get("WORLD_SIZE", "1")),
            local_rank=int(e.get("LOCAL_RANK", "0")),
        )


def setup(training: TrainingSettings) -> DistEnv:
    """Seed everything, set CPU threads, quiet the libraries' progress output and join the process
    group (gloo on CPU, nccl on GPU)."""
    import datasets
    import numpy as np
    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    datasets.disable_progress_bars()

    env = DistEnv.from_env()
    if training.threads is not None:
        torch.set_num_threads(training.threads)
    elif env.world_size > 1 and not torch.cuda.is_available():
        # processes on one machine share its cores
        torch.set_num_threads(
            max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", env.world_size)))
        )
    random.seed(training.seed)
    np.random.seed(training.seed)
    torch.manual_seed(training.seed)
    if env.distributed and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(env.local_rank)
        torch.distributed.init_process_group(backend=backend)
    return env


def trained_model(trainer: Any, env: DistEnv, *, deepspeed: DeepSpeedSettings | None, lora: object) -> Any:
    """The whole trained model on rank 0 (None on other ranks), ready to save or score: ZeRO-3 shards
    gathered (a collective: every rank must call this), LoRA adapters merged, float32, eval mode."""
    zero3 = deepspeed is not None and deepspeed.stage == 3
    state = trainer.accelerator.get_state_dict(trainer.deepspeed) if zero3 else None
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not env.is_main:
        return None
    if state is not None:
        model.load_state_dict(state, strict=False)
    if lora is not None:
        model = model.merge_and_unload()
    return model.float().eval()


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


def barrier(env: DistEnv) -> None:
    import torch

    if env.distributed and torch.distributed.is_initialized():
        torch.distributed.barrier()


def broadcast_object(env: DistEnv, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    import torch

    if not env.distributed:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


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


def training_arguments_kwargs(
    training: TrainingSettings, work_dir: Path, deepspeed: DeepSpeedSettings | None
) -> dict[str, Any]:
    """Keyword arguments shared by ``RewardConfig`` and ``TrainingArguments``."""
    import torch

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
        "report_to": [],
        "logging_steps": max(1, training.max_steps // 10),
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
    }
    if deepspeed is not None:
        kwargs["deepspeed"] = deepspeed_config(deepspeed)
    return kwargs


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A scratch directory removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def report_progress(step: int, total: int, env: DistEnv | None = None) -> None:
    """Tell ``pro run`` how far the stage is (a no-op in pods and on ranks other than 0)."""
    path = os.environ.get(PROGRESS_ENV)
    if not path or not (env or DistEnv.from_env()).is_main:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        fh.write(f'{{"step": {int(step)}, "total": {int(total)}}}')
    os.replace(tmp, path)


def progress_callback(total: int | None = None) -> Any:
    """A transformers ``TrainerCallback`` reporting each optimizer step through :func:`report_progress`."""
    from transformers import TrainerCallback

    class ReportProgress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            report_progress(state.global_step, total or state.max_steps)

    return ReportProgress()


def commit(resource: Resource, src_dir: Path, uri: str, *, kind: str) -> Any:
    """Write the stage spec next to the outputs and commit ``src_dir`` to ``uri`` (rank 0 only)."""
    from pro.store import Producer, put_artifact

    (src_dir / SPEC_FILE).write_text(dump_yaml(resource))
    producer = Producer(kind=kind, name=resource.metadata.name)
    return put_artifact(src_dir, uri, producer=producer, work_digest=work_digest(resource))


def fetch(uri: str) -> Path:
    """A verified local copy of the artifact at ``uri`` (the store's process-safe cache)."""
    from pro.store import get_artifact

    return Path(get_artifact(uri))
