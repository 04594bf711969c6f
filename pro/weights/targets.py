"""z-scores and target weights: the one home of ``z_k = (r_k − mean_k) / std_k`` and ``softmax(z / tau)``.

``w*(x) = softmax(z(x, y_chosen) / tau)``: every preferred response scored by all K reward models,
z-normalised, softmaxed.  The statistics are those of the data set's preferred responses (``dataset``,
as Rewards-in-Context normalises, the default) or each reward model's recorded statistics over its own
training pairs (``recorded``).  Bradley–Terry scores have an arbitrary scale per model, so the choice
decides which objective a preferred response "stands out" on; ``docs/quality.md`` shows the effect on
the toy world.  :class:`RewardBank` scores generated responses with the recorded statistics (the
combined reward of PRO-MORLHF, WIC's conditioning, the evaluation's per-objective rewards).

Importing this module loads no ML library; scoring loads torch with the reward models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from pro.errors import UserError

if TYPE_CHECKING:
    from pro.models.reward import RewardScorer


def softmax_tau(z: np.ndarray, tau: float) -> np.ndarray:
    """Row-wise ``softmax(z / tau)``, numerically stable, in the precision of ``z``."""
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


Normalization = Literal["dataset", "recorded", "none"]


@dataclass(frozen=True)
class Normalizer:
    """Per-objective ``mean`` and ``std`` (``[K]`` each) that turn raw scores into z-scores."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """z-scores of ``raw`` (``[N, K]``) in its own precision: float32 scores stay float32."""
        out: np.ndarray = (raw - self.mean.astype(raw.dtype)) / self.std.astype(raw.dtype)
        return out

    @classmethod
    def of(cls, raw: np.ndarray) -> Normalizer:
        """The statistics of ``raw`` itself (a constant column gets std 1)."""
        std = raw.std(axis=0)
        return cls(raw.mean(axis=0), np.where(std > 0, std, 1.0))

    @classmethod
    def recorded(cls, scorers: Sequence[RewardScorer], objectives: Sequence[str]) -> Normalizer:
        """The statistics each reward model recorded over its training pairs (``stats.json``)."""
        missing = [o for o, s in zip(objectives, scorers, strict=True) if s.stats is None]
        if missing:
            raise UserError(
                f"reward model for {', '.join(missing)}: no recorded score statistics (stats.json)"
            )
        return cls(
            np.asarray([s.stats.mean for s in scorers if s.stats]),
            np.asarray([max(s.stats.std, 1e-8) for s in scorers if s.stats]),
        )

    @classmethod
    def fit(
        cls, raw: np.ndarray, scorers: Sequence[RewardScorer], objectives: Sequence[str], how: Normalization
    ) -> Normalizer:
        """Statistics of ``raw`` (``dataset``), the scorers' recorded ones (``recorded``), or none (raw
        scores as they are: mean 0, std 1)."""
        if how == "none":
            k = raw.shape[1]
            return cls(np.zeros(k), np.ones(k))
        return cls.of(raw) if how == "dataset" else cls.recorded(scorers, objectives)

    def to_dict(self, objectives: Sequence[str]) -> dict[str, dict[str, float]]:
        return {
            o: {"mean": float(m), "std": float(s)}
            for o, m, s in zip(objectives, self.mean, self.std, strict=True)
        }


def raw_scores(
    scorers: Sequence[RewardScorer], prompts: Sequence[str], responses: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """``[N, K]`` raw scores (float32, as the models give them) of ``responses`` under each reward model."""
    cols = [s.score(prompts, responses, batch_size=batch_size) for s in scorers]
    return np.stack(cols, axis=1) if cols else np.zeros((len(prompts), 0), dtype=np.float32)


class RewardBank:
    """The K reward models, in objective order; ``z(prompts, responses) -> [N, K]`` z-scores under
    each model's recorded statistics (every model must have them)."""

    def __init__(
        self, objectives: Sequence[str], scorers: Mapping[str, RewardScorer], *, batch_size: int = 64
    ) -> None:
        self.objectives = list(objectives)
        self.scorers = [scorers[o] for o in self.objectives]
        self.batch_size = batch_size
        self.normalizer = Normalizer.recorded(self.scorers, self.objectives)

    @classmethod
    def load(cls, objectives: Sequence[str], uris: Mapping[str, str], *, batch_size: int = 64) -> RewardBank:
        """The reward-model artifacts (URIs or local directories), one per objective."""
        from pro.models.reward import RewardScorer
        from pro.store import local_artifact

        scorers = {o: RewardScorer.load(local_artifact(uris[o], "config.json")) for o in objectives}
        return cls(objectives, scorers, batch_size=batch_size)

    def z(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.normalizer(raw_scores(self.scorers, prompts, responses, batch_size=self.batch_size))


@dataclass
class Targets:
    """Per-row z-scores ``[N, K]`` and target weights ``[N, K]``, and the statistics used."""

    objectives: list[str]
    z: np.ndarray
    weights: np.ndarray
    tau: float
    normalizer: Normalizer


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
    """Targets for each (prompt, preferred response) row, in float64.

    ``normalizer`` reuses statistics fitted elsewhere (held-out rows use the training rows').
    """
    raw = raw_scores(scorers, prompts, preferred, batch_size=batch_size).astype(np.float64)
    norm = normalizer or Normalizer.fit(raw, scorers, objectives, normalization)
    z = norm(raw)
    return Targets(list(objectives), z, softmax_tau(z, tau), tau, norm)


def kl_rows(target: np.ndarray, pred: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Per-row ``KL(target ‖ pred)`` for weight matrices."""
    t = np.clip(target, eps, 1.0)
    p = np.clip(pred, eps, 1.0)
    out: np.ndarray = np.sum(target * (np.log(t) - np.log(p)), axis=1)
    return out


def total_variation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row total-variation distance ``½ Σ_k |a_k − b_k|``."""
    out: np.ndarray = 0.5 * np.abs(a - b).sum(axis=1)
    return out


def weight_metrics(target: np.ndarray, pred: np.ndarray, prefix: str) -> dict[str, float]:
    """KL, total variation and argmax agreement of predicted vs target weights."""
    if len(target) == 0:
        return {}
    return {
        f"{prefix}KL": float(np.mean(kl_rows(target, pred))),
        f"{prefix}TV": float(np.mean(total_variation(target, pred))),
        f"{prefix}ArgmaxAgreement": float(np.mean(target.argmax(1) == pred.argmax(1))),
    }


def mean_by_category(
    categories: Sequence[str | None], weights: np.ndarray, objectives: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Mean weights per row category, rounded to 4 places (rows without a category are skipped)."""
    out: dict[str, dict[str, float]] = {}
    for cat in sorted({c for c in categories if c is not None}):
        rows = weights[[c == cat for c in categories]]
        out[cat] = {o: round(float(v), 4) for o, v in zip(objectives, rows.mean(0), strict=True)}
    return out


__all__ = [
    "Normalization",
    "Normalizer",
    "RewardBank",
    "Targets",
    "entropy",
    "kl_rows",
    "mean_by_category",
    "raw_scores",
    "softmax_tau",
    "target_weights",
    "total_variation",
    "weight_metrics",
]
