"""Tiny config-built judge models saved like any published model (tests and ``bench/judging.py``): a causal
LM with a byte-level BPE tokenizer and a chat template (a pairwise judge), and untrained reward models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pro.eval.pairwise import SYSTEM, TEMPLATE

#: a minimal chat template: role markers, and the assistant's turn opened for generation
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def build_judge_lm(
    directory: Path,
    texts: Sequence[str],
    *,
    chat_template: bool = True,
    hidden: int = 32,
    layers: int = 1,
    vocab_size: int = 600,
    seed: int = 0,
) -> Path:
    """A random tiny llama judge over a case-sensitive BPE vocabulary of ``texts`` and the judge's prompt
    (a larger ``vocab_size`` gives the short sequences of a real judge's tokenizer); without
    ``chat_template`` it is a model the pairwise judge must refuse."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from pro.models.tokenizers import build_tokenizer
    from pro.spec.model import TokenizerBuild

    torch.manual_seed(seed)
    corpus = [*texts, SYSTEM, TEMPLATE, "m M", CHAT_TEMPLATE]
    tok = build_tokenizer(
        corpus, TokenizerBuild(kind="bpe", vocab_size=vocab_size, lowercase=False), max_length=4096
    )
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=2 * hidden, max_position_embeddings=4096,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


__all__ = ["CHAT_TEMPLATE", "build_judge_lm"]
