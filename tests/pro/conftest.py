"""Shared fixtures: a generated toy world, untrained tiny reward models and adapter (artifacts on disk),
and a small PolicyAlignment spec factory.  Nothing here trains for long: mechanics, not quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = ["helpfulness", "harmlessness", "humor"]

TINY_POLICY = {
    "config": {"modelType": "llama", "hiddenSize": 32, "numHiddenLayers": 1, "numAttentionHeads": 2,
               "numKeyValueHeads": 2, "intermediateSize": 64, "maxPositionEmbeddings": 128},
    "tokenizer": {"build": {"kind": "wordlevel", "vocabSize": 2000}},
}  # fmt: skip


def _tiny_rm(world: Any, directory: Path, objective: str, seed: int) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from pro.models.tokenizers import build_tokenizer

    torch.manual_seed(seed)
    tok = build_tokenizer([" ".join(world.vocabulary())])
    cfg = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=160, num_labels=1,
                     pad_token_id=tok.pad_token_id)  # fmt: skip
    BertForSequenceClassification(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    stats = {"objective": objective, "maxLength": 128, "mean": 0.0, "std": 0.5, "count": 10}
    (directory / "stats.json").write_text(json.dumps(stats))


def _tiny_adapter(world: Any, directory: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    from pro.models.adapter import PromptAdapter, save_adapter
    from pro.models.tokenizers import build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer([" ".join(world.vocabulary())])
    cfg = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, pad_token_id=tok.pad_token_id)  # fmt: skip
    module = PromptAdapter(BertModel(cfg), len(OBJECTIVES))
    save_adapter(module, tok, OBJECTIVES, directory, tau=0.1, max_length=48)


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A generated example world plus untrained tiny RMs and an adapter, as local artifacts."""
    from pro.toy import World
    from pro.toy.generate import generate

    base = tmp_path_factory.mktemp("toy")
    generate(ROOT / "examples/toy/world.yaml", base / "world")
    world = World.load(base / "world")
    rms = {}
    for i, o in enumerate(OBJECTIVES):
        d = base / f"rm-{o}"
        d.mkdir()
        _tiny_rm(world, d, o, i)
        rms[o] = str(d)
    _tiny_adapter(world, base / "adapter")
    # a small prompt file and SFT file keep the runs short
    sft = (base / "world" / "sft.jsonl").read_text().splitlines()[:64]
    (base / "sft-small.jsonl").write_text("\n".join(sft) + "\n")
    prompts = (base / "world" / "heldout.jsonl").read_text().splitlines()[:24]
    (base / "prompts-small.jsonl").write_text("\n".join(prompts) + "\n")
    return {
        "base": base,
        "world": str(base / "world"),
        "rms": rms,
        "adapter": str(base / "adapter"),
        "sft": str(base / "sft-small.jsonl"),
        "prompts": str(base / "prompts-small.jsonl"),
    }


def align_spec(toy: dict[str, Any], out: Path, **over: Any) -> dict[str, Any]:
    """A PolicyAlignment document (plain data) for the tiny fixtures; ``over`` replaces spec fields."""
    spec: dict[str, Any] = {
        "objectives": OBJECTIVES,
        "rewardModels": toy["rms"],
        "weights": {"mode": "adapter", "adapter": toy["adapter"]},
        "policy": TINY_POLICY,
        "init": {"data": toy["sft"], "steps": 5, "batchSize": 8},
        "prompts": toy["prompts"],
        "generation": {"maxNewTokens": 8, "numGenerations": 2},
        "training": {"maxSteps": 2, "learningRate": 1e-3, "perDeviceBatchSize": 4, "threads": 1},
        "world": toy["world"],
        "output": str(out),
    }
    spec.update(over)
    return {"apiVersion": "pro.alignment.dev/v1alpha1", "kind": "PolicyAlignment",
            "metadata": {"name": "align-test"}, "spec": spec}  # fmt: skip
