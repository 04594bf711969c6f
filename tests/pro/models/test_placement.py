"""Every loading path puts models where pro.models.device says: training weights in float32 whatever the
checkpoint's dtype, inference models on this process's device in its inference dtype (float32 here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.ml

TEXTS = [
    "how do i tie a knot",
    "tell me a joke about cats",
    "step one : make a loop",
    "be careful with knives",
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A bf16 causal LM and a bf16 encoder saved like hub checkpoints, with a locally built tokenizer."""
    from transformers import AutoModel, AutoModelForCausalLM, BertConfig, Qwen2Config

    from pro.models.tokenizers import build_tokenizer

    base = tmp_path_factory.mktemp("ckpt")
    tok = build_tokenizer(TEXTS, max_length=32)
    ids = {
        "pad_token_id": tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
        "bos_token_id": tok.cls_token_id,
    }
    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_config(
        Qwen2Config(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    num_key_value_heads=1, intermediate_size=32, max_position_embeddings=64, **ids),
        dtype=torch.bfloat16,
    )  # fmt: skip
    enc = AutoModel.from_config(
        BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=32, max_position_embeddings=64, pad_token_id=tok.pad_token_id),
        dtype=torch.bfloat16,
    )  # fmt: skip
    out = {"lm": base / "lm", "encoder": base / "encoder"}
    for model, d in ((lm, out["lm"]), (enc, out["encoder"])):
        model.save_pretrained(d)
        tok.save_pretrained(d)
    return out


def _dtypes(model: torch.nn.Module) -> set[torch.dtype]:
    return {p.dtype for p in model.parameters()}


def test_training_backbones_load_in_float32_from_a_bf16_checkpoint(checkpoints: dict[str, Path]) -> None:
    from pro.models.backbone import load_backbone, load_tokenizer
    from pro.spec.model import ModelSource

    for name, head in ((checkpoints["lm"], "sequence-classification"), (checkpoints["encoder"], "encoder")):
        source = ModelSource(name=str(name))
        model = load_backbone(source, load_tokenizer(source), head)  # type: ignore[arg-type]
        assert _dtypes(model) == {torch.float32}, (name, head)


def test_policy_by_name_trains_in_float32_and_loads_for_inference(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    from pro.align.policy import build_policy, load_policy, save_local, sft
    from pro.models.device import accelerator, inference_dtype
    from pro.spec.model import ModelSource

    model, tok = build_policy(ModelSource(name=str(checkpoints["lm"])), [])
    assert _dtypes(model) == {torch.float32}
    losses = sft(model, tok, [("how do i [SEP]", "make a loop")], steps=2, learning_rate=1e-3, batch_size=1)
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert model.device == accelerator()  # sft trains where this process's device is
    save_local(model, tok, tmp_path / "policy")
    for directory in (tmp_path / "policy", checkpoints["lm"]):  # a float32 and a bf16 checkpoint
        loaded, _, _ = load_policy(directory)
        assert not loaded.training
        assert loaded.device == accelerator()
        assert _dtypes(loaded) == {inference_dtype()}, directory


def test_reward_scorer_loads_for_inference_and_scores_like_the_model(checkpoints: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification

    from pro.models.device import accelerator, inference_dtype
    from pro.models.reward import RewardScorer

    scorer = RewardScorer.load(checkpoints["lm"])
    assert scorer.model.device == accelerator()
    assert _dtypes(scorer.model) == {inference_dtype()}
    assert not scorer.model.training
    batched = scorer.score(TEXTS, TEXTS[::-1], batch_size=3)
    one_by_one = scorer.score_one_by_one(TEXTS, TEXTS[::-1])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4, atol=1e-5)
    ref = AutoModelForSequenceClassification.from_pretrained(checkpoints["lm"], dtype=torch.float32)
    assert ref.config.num_labels == scorer.model.config.num_labels


def test_adapter_loads_for_inference_and_one_by_one_matches_batched(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    from transformers import AutoModel, AutoTokenizer

    from pro.models.adapter import LoadedAdapter, PromptAdapter, save_adapter
    from pro.models.device import accelerator, inference_dtype

    module = PromptAdapter(AutoModel.from_pretrained(checkpoints["encoder"]), 3)  # a bf16 backbone, fp32 head
    tok = AutoTokenizer.from_pretrained(checkpoints["encoder"])
    save_adapter(module, tok, ["a", "b", "c"], tmp_path / "adapter", tau=0.1, max_length=16)
    adapter = LoadedAdapter.load(tmp_path / "adapter")
    params = list(adapter.module.parameters())
    assert {p.device for p in params} == {accelerator()}
    assert {p.dtype for p in params} == {inference_dtype()}
    batched = adapter.weights(TEXTS, batch_size=3)
    single = adapter.weights_one_by_one(TEXTS)
    assert single.dtype == np.float32
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(single.sum(axis=1), 1.0, rtol=1e-5)
