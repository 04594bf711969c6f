"""The combined reward ``r(x, y) = Σ_k w_k(x) · z_k(x, y)`` as a TRL reward function.

``w(x)`` is computed once per prompt before training and travels with the prompt as the dataset column
``weights`` (TRL passes extra columns to reward functions as keyword arguments, one value per
completion); ``z_k`` is reward model k's score normalised with its recorded statistics
(:class:`pro.weights.targets.RewardBank`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pro.weights.targets import RewardBank


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


__all__ = ["CombinedReward", "combine"]
