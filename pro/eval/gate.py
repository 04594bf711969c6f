"""The promotion gate's decision, and the numbers it rests on (pure).

A win rate's uncertainty is a percentile bootstrap over the compared rows; the gate passes when the
win rate (or, with ``confidence``, the lower end of its interval) reaches ``minWinRate`` and no objective
fell further than its ``maxRegression``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pro.spec.promotion import PromotionRule

PROMOTED = "Promoted"
REJECTED = "Rejected"
SUPERSEDED = "Superseded"
UNCHANGED = "Unchanged"
"""The run's policy is the promoted one already (its alignment was reused): nothing to move."""


def row_wins(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, tol: float = 1e-9
) -> np.ndarray:
    """Per row: 1 when ``a`` beats ``b``, ½ for a tie, 0 otherwise."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.where(np.abs(x - y) <= tol, 0.5, (x > y).astype(np.float64))


def bootstrap_interval(
    wins: Sequence[float] | np.ndarray, level: float = 0.95, *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``wins`` at ``level`` (two-sided)."""
    w = np.asarray(wins, dtype=np.float64)
    if w.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = w[rng.integers(0, w.size, size=(resamples, w.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


@dataclass(frozen=True)
class Decision:
    """Pass or fail, and why, with the numbers."""

    passed: bool
    reasons: tuple[str, ...]
    """Why it failed (empty when it passed)."""
    win_rate: float
    interval: tuple[float, float] | None
    """The win rate's interval at the rule's confidence (None without one)."""
    changes: Mapping[str, float] = field(default_factory=dict)
    """Per objective: new mean minus baseline mean (z-scored rewards)."""

    def metrics(self) -> dict[str, float]:
        out = {"winRate": round(self.win_rate, 6)}
        if self.interval is not None:
            out |= {"winRateLow": round(self.interval[0], 6), "winRateHigh": round(self.interval[1], 6)}
        out |= {f"change.{o}": round(v, 6) for o, v in self.changes.items()}
        return out


def decide(
    wins: Sequence[float] | np.ndarray, rule: PromotionRule, changes: Mapping[str, float] | None = None
) -> Decision:
    """Whether the new policy passes ``rule`` given its per-row ``wins`` over the baseline and the
    per-objective mean changes."""
    w = np.asarray(wins, dtype=np.float64)
    rate = float(w.mean()) if w.size else float("nan")
    interval = bootstrap_interval(w, rule.confidence) if rule.confidence is not None else None
    reasons = []
    bound = interval[0] if interval is not None else rate
    if not bound >= rule.min_win_rate:  # NaN (no rows) fails too
        what = (
            f"lower {rule.confidence:.0%} bound {bound:.3f}"
            if interval is not None
            else f"win rate {rate:.3f}"
        )
        reasons.append(f"{what} < minWinRate {rule.min_win_rate:.3f}")
    changes = dict(changes or {})
    for objective, limit in rule.max_regression.items():
        delta = changes.get(objective)
        if delta is None:
            reasons.append(f"no {objective} reward to check maxRegression against")
        elif delta < -limit:
            reasons.append(f"{objective} fell by {-delta:.3f} > maxRegression {limit:.3f}")
    return Decision(not reasons, tuple(reasons), rate, interval, changes)


__all__ = [
    "PROMOTED",
    "REJECTED",
    "SUPERSEDED",
    "UNCHANGED",
    "Decision",
    "bootstrap_interval",
    "decide",
    "row_wins",
]
