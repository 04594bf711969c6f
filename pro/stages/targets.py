"""Target weights: score every preferred response with all K reward models, z-normalise, softmax.

``w*(x) = softmax(z(x, y_chosen) / tau)`` with ``z_k = (r_k − mean_k) / std_k``.  The statistics are
those of the data set's preferred responses (``dataset``, as Rewards-in-Context normalises, the
default) or each reward model's recorded statistics over its own training pairs (``recorded``).
Bradley–Terry scores have an arbitrary scale per model, so the choice decides which objective a
preferred response "stands out" on; ``docs/quality.md`` shows the effect on the toy world.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pro.models.reward import RewardScorer


def softmax_tau(z: np.ndarray, tau: float) -> np.ndarray:
    """Row-wise ``softmax(z / tau)``, numerically stable."""
    if tau <= 0:
        raise ValueError("tau must be > 0")
    a = z / tau
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def entropy(w: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Per-row Shannon entropy (nats)."""
    out: np.ndarray = -np.sum(w * np.log(np.clip(w, eps, 1.0)), axis=1)
    return out


Normalization = Literal["dataset", "recorded"]


@dataclass(frozen=True)
class Normalizer:
    """Per-objective ``mean`` and ``std`` (``[K]`` each) that turn raw scores into z-scores."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        out: np.ndarray = (raw - self.mean) / self.std
        return out

    @classmethod
    def fit(cls, raw: np.ndarray, scorers: Sequence[RewardScorer], how: Normalization) -> Normalizer:
        """Statistics of ``raw`` (``dataset``) or the scorers' recorded ones (``recorded``)."""
        if how == "dataset":
            std = raw.std(axis=0)
            return cls(raw.mean(axis=0), np.where(std > 0, std, 1.0))
        missing = [s.objective or "?" for s in scorers if s.stats is None]
        if missing:
            raise ValueError(f"reward model(s) without recorded statistics: {', '.join(missing)}")
        return cls(
            np.asarray([s.stats.mean for s in scorers if s.stats]),
            np.asarray([max(s.stats.std, 1e-8) for s in scorers if s.stats]),
        )

    def to_dict(self, objectives: Sequence[str]) -> dict[str, dict[str, float]]:
        return {
            o: {"mean": float(m), "std": float(s)}
            for o, m, s in zip(objectives, self.mean, self.std, strict=True)
        }


@dataclass
class Targets:
    """Per-row z-scores ``[N, K]`` and target weights ``[N, K]``, and the statistics used."""

    objectives: list[str]
    z: np.ndarray
    weights: np.ndarray
    tau: float
    normalizer: Normalizer


def raw_scores(
    scorers: Sequence[RewardScorer], prompts: Sequence[str], responses: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """``[N, K]`` raw scores of ``responses`` under each reward model."""
    cols = [s.score(prompts, responses, batch_size=batch_size) for s in scorers]
    return np.stack(cols, axis=1).astype(np.float64) if cols else np.zeros((len(prompts), 0))


def zscores(
    scorers: Sequence[RewardScorer], prompts: Sequence[str], responses: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """``[N, K]`` scores normalised with each reward model's recorded statistics."""
    raw = raw_scores(scorers, prompts, responses, batch_size=batch_size)
    return Normalizer.fit(raw, scorers, "recorded")(raw)


def target_weights(
    scorers: Sequence[RewardScorer],
    objectives: Sequence[str],
    prompts: Sequence[str],
    preferred: Sequence[str],
    *,
    tau: float = 0.1,
    batch_size: int = 64,
    normalization: Normalization = "dataset",
    normalizer: Normalizer | None = None,
) -> Targets:
    """Targets for each (prompt, preferred response) row.

    ``normalizer`` reuses statistics fitted elsewhere (held-out rows use the training rows').
    """
    raw = raw_scores(scorers, prompts, preferred, batch_size=batch_size)
    norm = normalizer or Normalizer.fit(raw, scorers, normalization)
    z = norm(raw)
    return Targets(list(objectives), z, softmax_tau(z, tau), tau, norm)
