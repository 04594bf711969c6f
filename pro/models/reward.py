"""A trained reward model loaded from its artifact directory, with batched scoring (z-scores from its
recorded statistics: :mod:`pro.weights.targets`).

Artifact layout (written by :mod:`pro.stages.reward`): the model and tokenizer (``save_pretrained``),
``stats.json`` (``mean``, ``std`` of scores over the reference set), ``metrics.json`` and ``stage.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pro.models.batching import bucketed_apply

STATS_FILE = "stats.json"


def separator(tokenizer: PreTrainedTokenizerBase) -> str:
    """What stands between prompt and response: the tokenizer's own separator token when it has one
    (encoders such as BERT or XLM-R), else a blank line (causal-LM reward models)."""
    sep = getattr(tokenizer, "sep_token", None)
    return f" {sep} " if sep else "\n\n"


def join_text(prompt: str, response: str, sep: str = "\n\n") -> str:
    """How a (prompt, response) pair is shown to a reward model, in training and in scoring alike."""
    return f"{prompt}{sep}{response}"


@dataclass
class ScoreStats:
    """Mean and standard deviation of a reward model's scores over its reference set."""

    mean: float
    std: float
    count: int

    @classmethod
    def of(cls, scores: np.ndarray) -> ScoreStats:
        std = float(np.std(scores))
        return cls(mean=float(np.mean(scores)), std=std if std > 1e-8 else 1.0, count=len(scores))

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "std": self.std, "count": self.count}


def accuracy(chosen: np.ndarray, rejected: np.ndarray) -> float:
    """Share of pairs whose chosen response scored higher than the rejected one (NaN for no pairs)."""
    return float(np.mean(chosen > rejected)) if len(chosen) else float("nan")


class RewardScorer:
    """Scores (prompt, response) pairs with one reward model."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        stats: ScoreStats | None = None,
        objective: str | None = None,
        max_length: int = 512,
        chat: bool = False,
    ) -> None:
        self.model = model.eval()  # type: ignore[no-untyped-call]
        self.tokenizer = tokenizer
        self.stats = stats
        self.objective = objective
        self.max_length = max_length
        self.eos = tokenizer.eos_token or ""
        self.sep = separator(tokenizer)
        self.chat = chat
        """Show each pair as a user/assistant conversation through the tokenizer's chat template (a
        published reward model, not one this project trained)."""

    @classmethod
    def load(
        cls, directory: str | Path, *, max_length: int | None = None, revision: str | None = None
    ) -> RewardScorer:
        """Load a reward-model artifact directory (or a hub id: a published sequence-classification
        reward model, scored through its chat template) onto this process's device, in its inference
        dtype."""
        from pro.models.device import for_inference, inference_dtype

        d = Path(directory)
        model = for_inference(
            AutoModelForSequenceClassification.from_pretrained(
                directory, revision=revision, dtype=inference_dtype()
            )
        )
        tokenizer = AutoTokenizer.from_pretrained(directory, revision=revision)
        stats_path = d / STATS_FILE
        stats, objective, length = None, None, max_length or 512
        if stats_path.exists():
            raw = json.loads(stats_path.read_text())
            stats = ScoreStats(float(raw["mean"]), float(raw["std"]), int(raw.get("count", 0)))
            objective = raw.get("objective")
            length = max_length or int(raw.get("maxLength", length))
        chat = stats is None and bool(getattr(tokenizer, "chat_template", None))
        return cls(model, tokenizer, stats=stats, objective=objective, max_length=length, chat=chat)

    def texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        if self.chat:
            return [
                str(
                    self.tokenizer.apply_chat_template(
                        [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
                    )
                )
                for p, r in zip(prompts, responses, strict=True)
            ]
        # TRL's RewardTrainer appends the EOS token to every training text; do the same here.
        return [join_text(p, r, self.sep) + self.eos for p, r in zip(prompts, responses, strict=True)]

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out: torch.Tensor = self.model(**batch).logits[:, 0]
        return out

    def score(self, prompts: Sequence[str], responses: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Raw scores, batched and length-bucketed under ``torch.inference_mode``."""
        return bucketed_apply(
            self.tokenizer,
            self.texts(prompts, responses),
            self._forward,
            batch_size=batch_size,
            max_length=self.max_length,
            device=self.model.device,
            add_special_tokens=not self.chat,
        )

    def score_one_by_one(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The naive loop (one forward per pair); kept as the benchmark's baseline."""
        out = []
        with torch.inference_mode():
            for text in self.texts(prompts, responses):
                enc = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt")
                batch = {k: enc[k].to(self.model.device) for k in ("input_ids", "attention_mask")}
                out.append(float(self._forward(batch).item()))
        return np.asarray(out, dtype=np.float32)

    def pairwise_accuracy(
        self, prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str], *, batch_size: int = 64
    ) -> float:
        """Share of pairs where the chosen response scores higher."""
        if not prompts:
            return float("nan")
        c = self.score(prompts, chosen, batch_size=batch_size)
        r = self.score(prompts, rejected, batch_size=batch_size)
        return accuracy(c, r)
