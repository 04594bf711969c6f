"""Policy A vs policy B: win rate by a judge (ties ½), per-objective means, length statistics.

Pure numerics over already generated completions; generation and judging live in the stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def win_rate(a: Sequence[float], b: Sequence[float], *, tol: float = 1e-9) -> float:
    """Share of rows where ``a`` beats ``b``; ties count ½."""
    if len(a) != len(b):
        raise ValueError("win_rate: a and b differ in length")
    if not a:
        return float("nan")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    wins = (x > y + tol).sum() + 0.5 * (np.abs(x - y) <= tol).sum()
    return float(wins / len(x))


def length_stats(texts: Sequence[str]) -> dict[str, float]:
    """Completion length in whitespace words: mean, median, p90, max, share empty."""
    n = np.asarray([len(t.split()) for t in texts], dtype=np.float64)
    if n.size == 0:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0, "emptyShare": 0.0}
    return {
        "mean": float(n.mean()),
        "median": float(np.median(n)),
        "p90": float(np.percentile(n, 90)),
        "max": float(n.max()),
        "emptyShare": float((n == 0).mean()),
    }


def compare(
    judge_a: Sequence[float],
    judge_b: Sequence[float],
    *,
    texts_a: Sequence[str],
    texts_b: Sequence[str],
    categories: Sequence[str | None] | None = None,
    objectives_a: Mapping[str, Sequence[float]] | None = None,
    objectives_b: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """The metrics of one comparison (``judge_*``: the judge's score per prompt)."""
    out: dict[str, Any] = {
        "prompts": len(judge_a),
        "winRate": win_rate(judge_a, judge_b),
        "meanJudge": {"a": float(np.mean(judge_a)), "b": float(np.mean(judge_b))},
        "length": {"a": length_stats(texts_a), "b": length_stats(texts_b)},
    }
    if categories is not None and any(c for c in categories):
        by: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            by.setdefault(c or "-", []).append(i)
        out["byCategory"] = {
            c: {
                "prompts": len(idx),
                "winRate": win_rate([judge_a[i] for i in idx], [judge_b[i] for i in idx]),
                "meanJudgeA": float(np.mean([judge_a[i] for i in idx])),
                "meanJudgeB": float(np.mean([judge_b[i] for i in idx])),
            }
            for c, idx in sorted(by.items())
        }
    if objectives_a and objectives_b:
        out["objectives"] = {
            o: {"a": float(np.mean(objectives_a[o])), "b": float(np.mean(objectives_b[o]))}
            for o in objectives_a
        }
    return out


__all__ = ["compare", "length_stats", "win_rate"]
