"""The alignment stage (MORLHF) end to end on tiny untrained models: GRPO and RLOO, weight modes, artifact
contents, and its user-facing errors (one line, naming what is wrong)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pro.errors import UserError
from tests.pro.conftest import align_spec

pytestmark = pytest.mark.ml


def _run(doc: dict[str, Any]) -> dict[str, Any]:
    from pro.spec.align import PolicyAlignment
    from pro.stages import align

    return align.run(PolicyAlignment.model_validate(doc))


def test_grpo_adapter_weights_commit_policy(toy: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "policy"
    metrics = _run(align_spec(toy, out))
    assert metrics["steps"] == 2 and metrics["weightMode"] == "adapter" and metrics["algorithm"] == "grpo"
    assert (out / "manifest.json").exists() and (out / "config.json").exists()
    meta = json.loads((out / "policy.json").read_text())
    assert meta["method"] == "morlhf" and meta["objectives"] == ["helpfulness", "harmlessness", "humor"]
    # the key set readers know, and the training temperature an evaluation samples at
    assert set(meta) == {"objectives", "method", "weights", "promptFormat", "temperature"}
    assert json.loads((out / "manifest.json").read_text())["producer"]["kind"] == "PolicyAlignment"
    history = json.loads((out / "history.json").read_text())
    assert len(history) >= 2 and {"reward", "trueUtility", "z/humor", "step"} <= set(history[0])
    rows = [json.loads(x) for x in (out / "weights.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and all(abs(sum(r["w"]) - 1) < 1e-3 for r in rows)


def _events(directory: Path) -> set[str]:
    """The scalar tags of every TensorBoard event file under ``directory`` (TFRecord framing: a length,
    its CRC, the ``Event`` proto, its CRC)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    tags: set[str] = set()
    for path in directory.rglob("events.out.tfevents.*"):
        data, at = path.read_bytes(), 0
        while at + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            event = Event.FromString(data[at + 12 : at + 12 + length])
            tags |= {v.tag for v in event.summary.value}
            at += 12 + length + 4
    return tags


def test_report_to_tensorboard_logs_each_objective_and_the_weights(
    toy: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    _run(align_spec(toy, tmp_path / "policy", training={"maxSteps": 2, "learningRate": 1e-3, "perDeviceBatchSize": 4,
                                                         "threads": 1, "reportTo": ["tensorboard"]}))  # fmt: skip
    tags = _events(tmp_path / "tb")
    assert {
        "train/loss",
        "train/pro/z/helpfulness",
        "train/pro/z/humor",
        "train/pro/weight/harmlessness",
    } <= tags, tags
    with pytest.raises(UserError, match=r"^training\.reportTo: mlflow needs the mlflow package"):
        _run(align_spec(toy, tmp_path / "p2", training={"maxSteps": 1, "reportTo": ["mlflow"]}))


@pytest.mark.parametrize("mode", ["uniform", "oracle", "fixed"])
def test_rloo_with_baseline_weight_modes(toy: dict[str, Any], tmp_path: Path, mode: str) -> None:
    weights: dict[str, Any] = {"mode": mode}
    if mode == "oracle":
        weights["world"] = toy["world"]
    if mode == "fixed":
        weights["fixed"] = {"helpfulness": 2, "harmlessness": 1, "humor": 1}
    out = tmp_path / "policy"
    metrics = _run(align_spec(toy, out, algorithm="rloo", weights=weights, training={
        "maxSteps": 1, "learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1}))  # fmt: skip
    assert metrics["algorithm"] == "rloo" and metrics["steps"] == 1
    rows = [json.loads(x)["w"] for x in (out / "weights.jsonl").read_text().splitlines()]
    if mode == "uniform":
        assert all(abs(w[0] - 1 / 3) < 1e-4 for w in rows)
    if mode == "fixed":
        assert all(abs(w[0] - 0.5) < 1e-4 for w in rows)
    if mode == "oracle":
        assert len({tuple(w) for w in rows}) > 1  # category-specific


def test_grpo_with_lora_saves_a_merged_policy(toy: dict[str, Any], tmp_path: Path) -> None:
    from pro.align.policy import load_policy

    out = tmp_path / "policy"
    metrics = _run(align_spec(toy, out, lora={"r": 4, "alpha": 8}, training={
        "maxSteps": 1, "learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1}))  # fmt: skip
    assert metrics["steps"] == 1
    model, _, _ = load_policy(out)
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_missing_init_data(toy: dict[str, Any], tmp_path: Path) -> None:
    doc = align_spec(toy, tmp_path / "p", init={"data": str(tmp_path / "sft.jsonl"), "steps": 1})
    with pytest.raises(UserError, match=r"init.data: .*no such file"):
        _run(doc)


def test_reward_model_without_statistics(toy: dict[str, Any], tmp_path: Path) -> None:
    rm = tmp_path / "rm"
    shutil.copytree(toy["rms"]["humor"], rm)
    (rm / "stats.json").unlink()
    doc = align_spec(toy, tmp_path / "p", rewardModels={**toy["rms"], "humor": str(rm)})
    with pytest.raises(UserError, match="humor: no recorded score statistics"):
        _run(doc)


def test_adapter_over_other_objectives(toy: dict[str, Any], tmp_path: Path) -> None:
    doc = align_spec(toy, tmp_path / "p", objectives=["humor", "helpfulness", "harmlessness"])
    with pytest.raises(UserError, match="the stage's objectives are"):
        _run(doc)
