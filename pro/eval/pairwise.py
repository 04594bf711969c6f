"""A pairwise LLM judge: a local causal LM asked which of two responses is better (AlpacaEval style).

The judge reads AlpacaEval 2's ranking prompt (two outputs labelled ``m`` and ``M``) through its chat
template and answers with one identifier; as AlpacaEval's weighted judge reads the log-probabilities of
the identifiers instead of a sampled answer, :meth:`PairwiseJudge.preference` takes the next-token logits
of ``m`` and ``M`` after the template's generation prompt — one forward pass per pair, batched and
length-bucketed, no generation.  Every pair is judged in both orders (position swap): A wins when both
orders prefer it, B when both prefer B, and a disagreement is a tie (½).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pro.errors import UserError
from pro.models.batching import bucketed_apply

#: the two output identifiers (AlpacaEval 2: ``m`` for the first output, ``M`` for the second)
IDENTIFIERS = ("m", "M")
SYSTEM = (
    "You are a highly efficient assistant, who evaluates and selects the best large language model (LLMs) "
    "based on the quality of their responses to a given instruction. This process will be used to create a "
    "leaderboard reflecting the most accurate and human-preferred answers."
)
TEMPLATE = """I require a leaderboard for various large language models. I'll provide you with prompts given to \
these models and their corresponding outputs. Your task is to assess these responses, and select the model that \
produces the best output from a human perspective.

## Instruction

{{"instruction": {instruction}}}

## Model Outputs

Here are the unordered outputs from the models. Each output is associated with a specific model, identified by \
a unique model identifier.

{{
    {{"model_identifier": "m", "output": {first}}},
    {{"model_identifier": "M", "output": {second}}}
}}

## Task

Evaluate the models on the basis of the quality and relevance of their results, and select the model that \
generated the best result. Reply with the identifier of the best model. Our evaluation will only take into \
account the first character of your answer, so make sure it contains only one of the identifiers and nothing \
else (no quotes, no spaces, no new lines, ...)."""


def verdicts(first_a: np.ndarray, first_b: np.ndarray) -> np.ndarray:
    """Per row, A's result from both orders: ``first_a`` = P(the first output is better) with A shown
    first, ``first_b`` = the same with B shown first.  1 when both orders prefer A, 0 when both prefer B,
    ½ when they disagree (or either is undecided)."""
    a_first = np.sign(np.asarray(first_a, dtype=np.float64) - 0.5)  # +1: A preferred with A first
    b_first = -np.sign(np.asarray(first_b, dtype=np.float64) - 0.5)  # +1: A preferred with B first
    return np.where((a_first > 0) & (b_first > 0), 1.0, np.where((a_first < 0) & (b_first < 0), 0.0, 0.5))


class PairwiseJudge:
    """A causal LM with a chat template judging pairs of responses (see the module docstring)."""

    def __init__(
        self, model: Any, tokenizer: Any, *, source: str, batch_size: int = 16, max_length: int = 2048
    ):
        if not getattr(tokenizer, "chat_template", None):
            raise UserError(
                f"judge: {source}: the pairwise judge needs a chat template; its tokenizer has none"
            )
        ids = [tokenizer(x, add_special_tokens=False)["input_ids"] for x in IDENTIFIERS]
        if any(len(i) == 0 for i in ids) or ids[0][0] == ids[1][0]:
            raise UserError(f"judge: {source}: its tokenizer cannot tell the identifiers {IDENTIFIERS} apart")
        self.model, self.tokenizer, self.source = model, tokenizer, source
        self.token_ids = (ids[0][0], ids[1][0])
        self.batch_size, self.max_length = batch_size, max_length

    @classmethod
    def load(cls, uri: str | None, model: str | None, *, revision: str | None = None, batch_size: int = 16,
             max_length: int = 2048) -> PairwiseJudge:  # fmt: skip
        """Load the judge from an artifact URI (``judge.uri``) or a hub id (``judge.model``)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from pro.models.device import for_inference, inference_dtype

        field, source = ("uri", uri) if uri else ("model", model)
        assert source is not None
        try:
            where: str | Path = source
            if uri:
                from pro.store import local_artifact

                where = local_artifact(uri, "config.json")
            lm = for_inference(
                AutoModelForCausalLM.from_pretrained(where, revision=revision, dtype=inference_dtype())
            )
            tok = AutoTokenizer.from_pretrained(where, revision=revision)
        except (OSError, ValueError, UserError) as err:
            raise UserError(f"judge.{field}: cannot load {source!r}: {str(err).splitlines()[0]}") from None
        return cls(lm, tok, source=source, batch_size=batch_size, max_length=max_length)

    def prompt_text(self, instruction: str, first: str, second: str) -> str:
        """The chat-formatted ranking prompt, ending where the judge's answer begins."""
        user = TEMPLATE.format(
            instruction=json.dumps(instruction), first=json.dumps(first), second=json.dumps(second)
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        try:
            text: str = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception:  # templates that refuse a system turn: fold it into the user turn
            messages = [{"role": "user", "content": f"{SYSTEM}\n\n{user}"}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text

    def _first_better(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """P(first better) per row of a left-padded batch: only the last position's logits are computed
        (``logits_to_keep=1``; the whole ``[B, T, V]`` would be gigabytes for a real judge's vocabulary),
        positions counted from each row's first real token, as ``generate`` does."""
        mask = batch["attention_mask"]
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        logits = self.model(**batch, position_ids=positions, logits_to_keep=1).logits[:, -1]  # [B, V]
        pair = logits[:, list(self.token_ids)].float()
        return torch.softmax(pair, dim=-1)[:, 0]

    def preference(self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
        """P(the first output is better) per row, batched and length-bucketed."""
        texts = [self.prompt_text(p, a, b) for p, a, b in zip(prompts, first, second, strict=True)]
        old = self.tokenizer.padding_side, self.tokenizer.truncation_side
        # left padding (every row's answer starts at the last position); a cut keeps the answer's start
        self.tokenizer.padding_side, self.tokenizer.truncation_side = "left", "left"
        try:
            return bucketed_apply(self.tokenizer, texts, self._first_better, batch_size=self.batch_size,
                                  max_length=self.max_length, device=self.model.device,
                                  add_special_tokens=False)  # fmt: skip
        finally:
            self.tokenizer.padding_side, self.tokenizer.truncation_side = old

    def preference_one_by_one(
        self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
    ) -> np.ndarray:
        """The naive loop (one forward per pair): the benchmark's baseline."""
        out = []
        self.tokenizer.truncation_side = "left"
        with torch.inference_mode():
            for p, a, b in zip(prompts, first, second, strict=True):
                enc = self.tokenizer(self.prompt_text(p, a, b), truncation=True, max_length=self.max_length,
                                     return_tensors="pt", add_special_tokens=False)  # fmt: skip
                batch = {k: enc[k].to(self.model.device) for k in ("input_ids", "attention_mask")}
                out.append(float(self._first_better(batch)[0]))
        return np.asarray(out, dtype=np.float32)

    def wins(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Per row: 1 (A better), 0 (B better) or ½ (the two orders disagree)."""
        return verdicts(self.preference(prompts, a, b), self.preference(prompts, b, a))


__all__ = ["IDENTIFIERS", "TEMPLATE", "PairwiseJudge", "verdicts"]
