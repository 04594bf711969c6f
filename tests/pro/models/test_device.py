"""Where models run and in which precision (pro.models.device): the choices, tested without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pro.models.device import (
    TRAINING_DTYPE,
    accelerator,
    autocast,
    choose_precision,
    device_for,
    for_inference,
    inference_dtype,
    trainer_precision_kwargs,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("device_type", "bf16", "expected"),
    [("cuda", True, "bf16"), ("cuda", False, "fp16"), ("cpu", True, "fp32"), ("cpu", False, "fp32"),
     ("mps", True, "fp32")],
)  # fmt: skip
def test_precision_follows_the_device(device_type: str, bf16: bool, expected: str) -> None:
    assert choose_precision(device_type, bf16) == expected


def test_trainer_flags_ask_for_bf16_on_a_bf16_gpu_and_leave_the_cpu_alone() -> None:
    assert trainer_precision_kwargs("cuda", True) == {"bf16": True, "fp16": False}
    assert trainer_precision_kwargs("cuda", False) == {"bf16": False, "fp16": True}
    # on the CPU the trainers keep their own defaults (TRL's bf16, transformers' fp32): CPU results stay put
    assert trainer_precision_kwargs("cpu", False) == {}


def test_the_device_is_this_process_gpu_under_torchrun() -> None:
    assert device_for(3, cuda_available=True) == torch.device("cuda", 3)
    assert device_for(3, cuda_available=False) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert accelerator({"LOCAL_RANK": "1"}) == torch.device("cpu")


def test_training_loads_float32_and_the_cpu_infers_in_float32() -> None:
    assert torch.float32 == TRAINING_DTYPE
    assert inference_dtype(torch.device("cpu")) == torch.float32
    with autocast(torch.device("cpu")):  # no autocast on the CPU: float32 stays float32
        out = torch.nn.Linear(4, 2)(torch.ones(1, 4))
    assert out.dtype == torch.float32


def test_for_inference_moves_casts_and_sets_eval_mode() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).to(torch.bfloat16).train()
    placed = for_inference(model, torch.device("cpu"))
    assert placed is model
    assert not placed.training
    assert {p.dtype for p in placed.parameters()} == {torch.float32}  # a bf16 checkpoint, upcast on the CPU
    assert {p.device.type for p in placed.parameters()} == {"cpu"}


def test_stage_training_arguments_carry_the_precision(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    from pro.models import device
    from pro.models.training import training_arguments_kwargs
    from pro.spec.model import TrainingSettings

    cpu = training_arguments_kwargs(TrainingSettings(), Path(str(tmp_path)), None)
    assert "bf16" not in cpu and "fp16" not in cpu and cpu["use_cpu"] == (not torch.cuda.is_available())
    # as on a bf16 GPU (nothing touches CUDA: the kwargs are plain data)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device, "_bf16_supported", lambda d: d.type == "cuda")
    gpu = training_arguments_kwargs(TrainingSettings(), Path(str(tmp_path)), None)
    assert gpu["bf16"] is True and gpu["use_cpu"] is False
    assert "tf32" not in gpu  # transformers' tf32 flag breaks torch's legacy TF32 getter (enable_tf32)


def test_tf32_is_enabled_so_both_torch_flag_apis_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from pro.models.device import enable_tf32

    before = torch.get_float32_matmul_precision()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    try:
        enable_tf32()
        assert torch.get_float32_matmul_precision() == "high"
        assert (
            torch.backends.cuda.matmul.allow_tf32 is True
        )  # the legacy getter still answers (no mixed APIs)
    finally:
        torch.set_float32_matmul_precision(before)


def test_a_model_named_by_its_artifact_uri_is_fetched_and_verified(tmp_path: Path) -> None:
    """A warm start names the promoted policy by its store URI; from_pretrained gets a local directory."""
    from pro.models.backbone import model_location
    from pro.store import Producer, put_artifact

    src = tmp_path / "policy"
    src.mkdir()
    (src / "config.json").write_text("{}")
    uri = (tmp_path / "store" / "align").as_uri()
    put_artifact(src, uri, producer=Producer("PolicyAlignment", "align"), work_digest="d")
    local = Path(model_location(uri))
    assert (local / "config.json").read_text() == "{}"
    assert model_location("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
