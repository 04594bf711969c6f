"""Where models run and in which precision: one place for every stage.

- **Device**: this process's GPU (``cuda:LOCAL_RANK``, as torchrun numbers processes on a node) when CUDA
  is there, else the CPU.
- **Training**: trainable weights are loaded in float32 (the master copy; a bf16 checkpoint is upcast, as
  TRL does for models it loads by path) and the forward pass runs under bf16 autocast on GPUs that have
  bf16 (fp16 on older ones); float32 matrix products use TF32 on the GPU (:func:`enable_tf32`).  On the
  CPU the trainers keep their own defaults, so CPU results do not change.
- **Inference** (reward scoring, the adapter's weights, evaluation and deployment generation): bf16 on
  a bf16 GPU (fp16 on older ones), float32 on the CPU.

The choices are pure functions of ``(device type, bf16 support)`` so they are tested without a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal, TypeVar

import torch

Precision = Literal["bf16", "fp16", "fp32"]

#: the dtype trainable weights are loaded in (``from_pretrained(dtype=...)``)
TRAINING_DTYPE = torch.float32

_DTYPES: dict[Precision, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

M = TypeVar("M", bound=torch.nn.Module)


def choose_precision(device_type: str, bf16_supported: bool) -> Precision:
    """bf16 on a GPU that has it, fp16 on an older GPU, fp32 on the CPU."""
    if device_type != "cuda":
        return "fp32"
    return "bf16" if bf16_supported else "fp16"


def device_for(local_rank: int, cuda_available: bool) -> torch.device:
    """``cuda:LOCAL_RANK`` when CUDA is there, else the CPU."""
    return torch.device("cuda", local_rank) if cuda_available else torch.device("cpu")


def accelerator(env: Mapping[str, str] | None = None) -> torch.device:
    """This process's device: its GPU under torchrun (``LOCAL_RANK``), the first GPU alone, else the CPU."""
    e = os.environ if env is None else env
    return device_for(int(e.get("LOCAL_RANK", "0")), torch.cuda.is_available())


def _bf16_supported(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)


def inference_dtype(device: torch.device | None = None) -> torch.dtype:
    """The dtype models are run in for inference on ``device`` (default: this process's)."""
    d = device or accelerator()
    return _DTYPES[choose_precision(d.type, _bf16_supported(d))]


def trainer_precision_kwargs(device_type: str, bf16_supported: bool) -> dict[str, Any]:
    """``TrainingArguments`` precision flags: bf16 or fp16 autocast on a GPU; nothing on the CPU, where
    transformers' Trainer stays in float32 and TRL's trainers keep their bf16 default.

    Never ``tf32``: transformers sets it through torch's new ``fp32_precision`` API, after which any read
    of the legacy ``torch.backends.cuda.matmul.allow_tf32`` raises (torch ≥ 2.9); see :func:`enable_tf32`."""
    precision = choose_precision(device_type, bf16_supported)
    if precision == "bf16":
        return {"bf16": True, "fp16": False}
    if precision == "fp16":
        return {"bf16": False, "fp16": True}
    return {}


def training_precision_kwargs() -> dict[str, Any]:
    """:func:`trainer_precision_kwargs` for this process's device."""
    d = accelerator()
    return trainer_precision_kwargs(d.type, _bf16_supported(d))


def enable_tf32() -> None:
    """TF32 for float32 matrix products on the GPU (no-op on the CPU), through
    ``torch.set_float32_matmul_precision``, which keeps torch's legacy and new TF32 flags consistent."""
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")


def for_inference(model: M, device: torch.device | None = None) -> M:
    """``model`` moved to ``device`` (default: this process's) in its inference dtype, in eval mode."""
    d = device or accelerator()
    return model.to(device=d, dtype=inference_dtype(d)).eval()


def to_training_device(model: M) -> M:
    """``model`` moved (in place) to this process's device, its dtype unchanged."""
    return model.to(accelerator())


def autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast for a hand-written training loop on a bf16 GPU; none elsewhere (fp16 would need a
    gradient scaler, and the CPU keeps float32)."""
    if choose_precision(device.type, _bf16_supported(device)) != "bf16":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


__all__ = [
    "TRAINING_DTYPE",
    "Precision",
    "accelerator",
    "autocast",
    "choose_precision",
    "device_for",
    "enable_tf32",
    "for_inference",
    "inference_dtype",
    "to_training_device",
    "trainer_precision_kwargs",
    "training_precision_kwargs",
]
