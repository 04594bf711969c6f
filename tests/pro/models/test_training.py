"""Trainer settings from a stage's spec: the DeepSpeed config."""

from __future__ import annotations

import pytest

from pro.models.training import deepspeed_config
from pro.spec.model import DeepSpeedSettings

pytestmark = pytest.mark.unit


def test_deepspeed_config() -> None:
    cfg = deepspeed_config(DeepSpeedSettings(stage=3, offload_optimizer=True, offload_params=True))
    assert cfg["zero_optimization"] == {
        "stage": 3, "offload_optimizer": {"device": "cpu"}, "offload_param": {"device": "cpu"},
        "stage3_gather_16bit_weights_on_model_save": True,  # the final save needs the whole model
    }  # fmt: skip
    assert (
        "stage3_gather_16bit_weights_on_model_save"
        not in deepspeed_config(DeepSpeedSettings(stage=2))["zero_optimization"]
    )
    assert cfg["optimizer"]["params"]["torch_adam"] is True
    assert deepspeed_config(DeepSpeedSettings(config={"x": 1})) == {"x": 1}
    with pytest.raises(ValueError, match="offloadParams needs stage: 3"):
        DeepSpeedSettings(stage=2, offload_params=True)
