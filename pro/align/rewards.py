"""The combined reward ``r(x, y) = Σ_k w_k(x) · z_k(x, y)`` as a TRL reward function.

``w(x)`` is computed once per prompt before training and travels with the prompt as the dataset column
``weights`` (TRL passes extra columns to reward functions as keyword arguments, one value per
completion); ``z_k`` is reward model k's score normalised with its recorded statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.errors import UserError


class RewardBank:
    """The K reward models, in objective order; ``z(prompts, responses) -> [N, K]`` z-scores."""

    def __init__(
        self, objectives: Sequence[str], scorers: Mapping[str, Any], *, batch_size: int = 64
    ) -> None:
        self.objectives = list(objectives)
        self.scorers = dict(scorers)
        self.batch_size = batch_size

    @classmethod
    def load(cls, objectives: Sequence[str], uris: Mapping[str, str], *, batch_size: int = 64) -> RewardBank:
        from pro.models.reward import RewardScorer
        from pro.stages.runtime import fetch

        scorers = {}
        for o in objectives:
            uri = uris[o]
            local = Path(uri)
            directory = local if (local / "config.json").exists() else fetch(uri)
            scorer = RewardScorer.load(directory)
            if scorer.stats is None:
                raise UserError(f"reward model {uri}: no recorded score statistics (stats.json)")
            scorers[o] = scorer
        return cls(objectives, scorers, batch_size=batch_size)

    def z(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        cols = [
            self.scorers[o].normalise(self.scorers[o].score(prompts, responses, batch_size=self.batch_size))
            for o in self.objectives
        ]
        return np.stack(cols, axis=1).astype(np.float32)


def combine(weights: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Row-wise ``Σ_k w_k z_k``."""
    return np.asarray((weights * z).sum(axis=1), dtype=np.float32)


class CombinedReward:
    """TRL reward function over the ``raw_prompt`` and ``weights`` dataset columns.

    Keeps a per-call history (mean combined reward, mean z per objective and, with ``judge``, the mean
    true utility of the samples) for the training curves.
    """

    __name__ = "combined_reward"

    def __init__(self, bank: RewardBank, judge: Callable[[str, str], float] | None = None) -> None:
        self.bank = bank
        self.judge = judge
        self.history: list[dict[str, float]] = []

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        raw_prompt: Sequence[str],
        weights: Sequence[Sequence[float]],
        **_: Any,
    ) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        texts = [t.strip() for t in texts]
        z = self.bank.z(list(raw_prompt), texts)
        w = np.asarray(weights, dtype=np.float32)
        r = combine(w, z)
        row: dict[str, float] = {"reward": float(r.mean())}
        for k, o in enumerate(self.bank.objectives):
            row[f"z/{o}"] = float(z[:, k].mean())
        row["length"] = float(np.mean([len(t.split()) for t in texts]))
        if self.judge is not None:
            row["trueUtility"] = float(
                np.mean([self.judge(p, t) for p, t in zip(raw_prompt, texts, strict=True)])
            )
        self.history.append(row)
        return [float(x) for x in r]


__all__ = ["CombinedReward", "RewardBank", "combine"]
