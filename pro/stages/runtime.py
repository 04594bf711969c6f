"""What every stage entrypoint shares: the torchrun environment, seeding, progress, committing outputs.

Only the torchrun environment is read (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, …),
so the same command runs under ``torchrun --standalone`` on a laptop and in a PyTorchJob pod.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pro.planner.compose import work_digest
from pro.spec import dump_yaml
from pro.spec.align import PolicyAlignment
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.model import DeepSpeedSettings, TrainingSettings
from pro.spec.stages import AdapterTraining, RewardModelTraining

#: the resources a stage entrypoint runs
StageResource = RewardModelTraining | AdapterTraining | PolicyAlignment | PolicyEvaluation

SPEC_FILE = "stage.yaml"
#: what a stage measured, next to its outputs (``pro run`` shows it; the stage prints the same)
METRICS_FILE = "metrics.json"
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


def import_libraries(modules: Iterable[str]) -> None:
    """Import a stage's libraries (the kind table's ``libraries``) with Python's cyclic garbage collector
    paused, then freeze everything loaded so far out of its scans (``gc.freeze``) and resume it.

    What a process imports lives as long as the process, yet while torch, transformers and trl import, the
    collector runs full collections over the growing heap, and every later full collection (accelerate
    asks for one each time a trainer starts) scans it all again: 1.4–2.5 s per stage start
    (``bench/overhead.py``).  A frozen object is never collected; the stage's own objects still are.  A
    module that cannot be imported is left to the stage, which says so where it needs it.
    """
    gc.disable()
    try:
        for name in modules:
            with suppress(ImportError):
                importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()


def setup(training: TrainingSettings) -> DistEnv:
    """Seed everything, set CPU threads, quiet the libraries' progress output, allow TF32 on a GPU and
    join the process group (gloo on CPU, nccl on GPU)."""
    import numpy as np
    import torch

    from pro.models.device import enable_tf32
    from pro.models.quiet import quiet_libraries

    quiet_libraries()

    env = DistEnv.from_env()
    if training.threads is not None:
        torch.set_num_threads(training.threads)
    elif env.world_size > 1 and not torch.cuda.is_available():
        # processes on one machine share its cores
        torch.set_num_threads(
            max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", env.world_size)))
        )
    enable_tf32()
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


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A scratch directory removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


_last_progress: dict[str, Any] = {"step": 0, "total": 0}


def report_progress(step: int, total: int, env: DistEnv | None = None, *, phase: str = "training") -> None:
    """Tell ``pro run`` how far the stage is and what it does (``training``, ``saving``, ``committing``,
    ``generating``, …); a no-op in pods and on ranks other than 0."""
    path = os.environ.get(PROGRESS_ENV)
    if not path or not (env or DistEnv.from_env()).is_main:
        return
    _last_progress.update(step=int(step), total=int(total), phase=phase)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(_last_progress))
    os.replace(tmp, path)


def report_phase(phase: str) -> None:
    """The stage moved on to ``phase`` (its step count stays where it was)."""
    report_progress(_last_progress["step"], _last_progress["total"], phase=phase)


class Counted:
    """Units of work (completions generated, rows scored) counted toward ``total`` and reported to
    ``pro run`` as ``phase`` (its step/total, rate and time left)."""

    def __init__(self, total: int, phase: str) -> None:
        self.total, self.phase, self.done = total, phase, 0
        report_progress(0, total, phase=phase)

    def add(self, n: int) -> None:
        self.done += n
        report_progress(self.done, self.total, phase=self.phase)


def progress_callback(total: int | None = None) -> Any:
    """A transformers ``TrainerCallback`` reporting each optimizer step through :func:`report_progress`."""
    from transformers import TrainerCallback

    class ReportProgress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            report_progress(state.global_step, total or state.max_steps)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            report_phase("saving")

    return ReportProgress()


#: the trainers' log keys a metric line shows, in order, with their short names (others stay in trackers)
METRIC_LABELS = (
    ("loss", "loss"),
    ("reward", "reward"),
    ("accuracy", "acc"),
    ("margin", "margin"),
    ("kl", "kl"),
    ("entropy", "entropy"),
    ("completions/mean_length", "len"),
    ("grad_norm", "grad"),
    ("learning_rate", "lr"),
)


def _number(value: float) -> str:
    return f"{value:.2e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4g}"


def metric_line(logs: Mapping[str, Any], step: int, total: int, seconds_per_step: float | None) -> str:
    """One readable line for a trainer's log dict: ``step 60/600  loss 0.6932  acc 0.875 … 2.1 steps/s``;
    the end-of-training summary as ``trained 600 steps in 81.3 s (7.4 steps/s), mean loss 0.31``."""
    if "train_runtime" in logs:
        line = f"trained {step} step{'' if step == 1 else 's'} in {float(logs['train_runtime']):.1f} s"
        if logs.get("train_steps_per_second"):
            line += f" ({float(logs['train_steps_per_second']):.3g} steps/s)"
        if logs.get("train_loss") is not None:
            line += f", mean loss {_number(float(logs['train_loss']))}"
        return line
    parts = [f"step {step}/{total}"]
    for key, label in METRIC_LABELS:
        value = logs.get(key)
        if not isinstance(value, (int, float)):
            continue
        text = _number(float(value))
        if key == "reward" and isinstance(logs.get("reward_std"), (int, float)):
            text += f"±{_number(float(logs['reward_std']))}"
        parts.append(f"{label} {text}")
    if seconds_per_step:
        parts.append(
            f"{1 / seconds_per_step:.3g} steps/s"
            if seconds_per_step < 1
            else f"{seconds_per_step:.3g} s/step"
        )
    return "  ".join(parts)


def metric_lines(trainer: Any) -> Any:
    """``trainer`` printing one :func:`metric_line` per logging step (rank 0) instead of transformers' raw
    dicts (its ``PrinterCallback``) or progress bar; trackers (``reportTo``) still get every value."""
    import time

    from transformers import PrinterCallback, ProgressCallback, TrainerCallback

    class MetricLines(TrainerCallback):
        def __init__(self) -> None:
            self.last: tuple[float, int] | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.last = (time.monotonic(), state.global_step)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **_: Any
        ) -> None:
            if not logs or not state.is_world_process_zero:
                return
            now, per_step = time.monotonic(), None
            if self.last is not None and state.global_step > self.last[1]:
                per_step = (now - self.last[0]) / (state.global_step - self.last[1])
            self.last = (now, state.global_step)
            print(metric_line(logs, state.global_step, state.max_steps, per_step), flush=True)

    for default in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(default)
    trainer.add_callback(MetricLines())
    return trainer


def write_metrics(out: Path, metrics: Mapping[str, Any]) -> None:
    """Write the stage's :data:`METRICS_FILE` into its output directory ``out``."""
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")


def commit(resource: StageResource, src_dir: Path, uri: str) -> Any:
    """Write the stage spec next to the outputs and commit ``src_dir`` to ``uri`` (rank 0 only); the
    manifest names the resource's kind and name as its producer."""
    from pro.store import Producer, put_artifact

    report_phase("committing")
    (src_dir / SPEC_FILE).write_text(dump_yaml(resource))
    producer = Producer(kind=resource.kind, name=resource.metadata.name)
    return put_artifact(src_dir, uri, producer=producer, work_digest=work_digest(resource))


def fetch(uri: str) -> Path:
    """A verified local copy of the artifact at ``uri`` (the store's process-safe cache)."""
    from pro.store import get_artifact

    return Path(get_artifact(uri))
