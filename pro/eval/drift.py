"""How an adapter's weights move between runs (pure): mean weights per probe category, and the total
variation distance between two runs' means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ALL = "all"


def weights_by_category(
    weights: np.ndarray, categories: Sequence[str | None], objectives: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Mean weight per objective for each category (``all`` when no row carries one)."""
    w = np.asarray(weights, dtype=np.float64)
    labels = [c or ALL for c in categories] if any(categories) else [ALL] * len(categories)
    out: dict[str, dict[str, float]] = {}
    for c in sorted(set(labels)):
        idx = [i for i, x in enumerate(labels) if x == c]
        out[c] = {o: float(w[idx, k].mean()) for k, o in enumerate(objectives)}
    return out


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """½ Σ|p − q| over the objectives of either (a missing one counts 0)."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def drift(now: Mapping[str, Mapping[str, float]], before: Mapping[str, Mapping[str, float]]) -> float | None:
    """The largest total variation over the categories both runs saw (None when they share none)."""
    shared = set(now) & set(before)
    if not shared:
        return None
    return max(total_variation(now[c], before[c]) for c in shared)


__all__ = ["ALL", "drift", "total_variation", "weights_by_category"]
