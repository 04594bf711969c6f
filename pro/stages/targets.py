"""Target weights: score every preferred response with all K reward models, z-normalise, softmax.

``w*(x) = softmax(z(x, y_chosen) / tau)`` with ``z_k = (r_k − mean_k) / std_k`` from each reward model's
recorded statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass
class Targets:
    """Per-row z-scores ``[N, K]`` and target weights ``[N, K]``."""

    objectives: list[str]
    z: np.ndarray
    weights: np.ndarray
    tau: float


def zscores(
    scorers: Sequence[RewardScorer], prompts: Sequence[str], responses: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """``[N, K]`` z-normalised scores of ``responses`` under each reward model."""
    cols = [s.normalise(s.score(prompts, responses, batch_size=batch_size)) for s in scorers]
    return np.stack(cols, axis=1).astype(np.float64) if cols else np.zeros((len(prompts), 0))


def target_weights(
    scorers: Sequence[RewardScorer],
    objectives: Sequence[str],
    prompts: Sequence[str],
    preferred: Sequence[str],
    *,
    tau: float = 0.1,
    batch_size: int = 64,
) -> Targets:
    """Targets for each (prompt, preferred response) row."""
    z = zscores(scorers, prompts, preferred, batch_size=batch_size)
    return Targets(list(objectives), z, softmax_tau(z, tau), tau)
