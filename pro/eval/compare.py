"""Policy A vs policy B, as numbers: win rates with bootstrap intervals, a length-controlled win rate,
per-category and per-objective results, diversity, lengths, and shares of a known optimum — for greedy
decoding and for sampling (mean and best-of-n), so a collapsed greedy decode cannot decide alone.

Pure numerics over completions already generated and judged; generation and judging live in the stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.eval.gate import bootstrap_interval, row_wins

LEVEL = 0.95
"""The level of every win-rate interval."""


@dataclass(frozen=True)
class Decoded:
    """One policy's completions to N prompts: greedy (one each) and ``S`` samples each."""

    prompts: list[str]
    greedy: list[str]
    sampled: list[list[str]] = field(default_factory=list)
    """[S][N]"""

    @property
    def samples(self) -> int:
        return len(self.sampled)


@dataclass(frozen=True)
class Judged:
    """One policy's completions with what is known about them."""

    name: str
    decoded: Decoded
    scores: np.ndarray | None = None
    """Pointwise judge: greedy scores [N] (None for a pairwise judge)."""
    sampled_scores: np.ndarray | None = None
    """Pointwise judge: [S, N]."""
    objectives: Mapping[str, np.ndarray] | None = None
    """Per objective: greedy scores [N] (the reward models' z, or the world's true scores)."""
    sampled_objectives: Mapping[str, np.ndarray] | None = None
    """Per objective: [S, N]."""


def win_rate(a: Sequence[float], b: Sequence[float], *, tol: float = 1e-9) -> float:
    """Share of rows where ``a`` beats ``b``; ties count ½."""
    if len(a) != len(b):
        raise ValueError("win_rate: a and b differ in length")
    if not len(a):
        return float("nan")
    return float(row_wins(a, b, tol=tol).mean())


def rate(wins: np.ndarray | Sequence[float]) -> dict[str, Any]:
    """A win rate and its percentile-bootstrap interval at :data:`LEVEL`."""
    w = np.asarray(wins, dtype=np.float64).ravel()
    lo, hi = bootstrap_interval(w, LEVEL)
    return {"winRate": float(w.mean()) if w.size else float("nan"), "interval": [lo, hi]}


#: the least share of rows on each side of Δlength = 0 for a length-controlled win rate
LC_MIN_SIDE = 0.05


def length_controlled_win_rate(
    wins: np.ndarray | Sequence[float], len_a: Sequence[float], len_b: Sequence[float], *, l2: float = 1e-2
) -> float | None:
    """AlpacaEval 2's length-controlled win rate for one pair of policies: a logistic regression of the
    per-row result (ties ½, as soft labels) on an intercept and ``tanh(Δlength / std(Δlength))``; the
    win rate it predicts with no length difference, ``sigmoid(intercept)``.  (AlpacaEval's third term,
    the instruction's difficulty across many models, is constant with two policies.)  None when fewer
    than :data:`LC_MIN_SIDE` of the rows lie on either side of Δlength = 0: when one policy is longer
    on (nearly) every row, its wins cannot be told apart from its length, and the fit would only
    extrapolate."""
    y = np.asarray(wins, dtype=np.float64).ravel()
    diff = np.asarray(len_a, dtype=np.float64).ravel() - np.asarray(len_b, dtype=np.float64).ravel()
    if y.size == 0 or min((diff > 0).mean(), (diff < 0).mean()) < LC_MIN_SIDE:
        return None
    std = diff.std()
    x = np.tanh(diff / std) if std > 0 else np.zeros_like(diff)
    design = np.stack([np.ones_like(x), x], axis=1)
    theta = np.zeros(2)
    for _ in range(100):  # Newton steps on the L2-penalised log-likelihood
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (y - p) - l2 * theta
        hess = -(design.T * (p * (1 - p))) @ design - l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(1.0 / (1.0 + np.exp(-theta[0])))


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


def diversity(texts: Sequence[str]) -> dict[str, float]:
    """Distinct completions (count and share), distinct-1 and distinct-2 (unique n-grams over all
    n-grams of all completions) and mean length in words."""
    words = [t.split() for t in texts]
    out: dict[str, float] = {
        "completions": float(len(texts)),
        "distinct": float(len(set(texts))),
        "distinctShare": len(set(texts)) / len(texts) if texts else 0.0,
    }
    for n in (1, 2):
        grams = [tuple(w[i : i + n]) for w in words for i in range(len(w) - n + 1)]
        out[f"distinct{n}"] = len(set(grams)) / len(grams) if grams else 0.0
    out["meanLength"] = float(np.mean([len(w) for w in words])) if words else 0.0
    return out


def check_same_prompts(a: Decoded, b: Decoded, names: tuple[str, str]) -> None:
    """Two policies are compared only on the same prompts, row for row."""
    if a.prompts != b.prompts:
        row = next((i for i, (x, y) in enumerate(zip(a.prompts, b.prompts, strict=False)) if x != y), None)
        where = f"row {row}: {a.prompts[row][:40]!r} vs {b.prompts[row][:40]!r}" if row is not None else (
            f"{len(a.prompts)} vs {len(b.prompts)} prompts")  # fmt: skip
        raise UserError(
            f"policies {names[0]} and {names[1]} were evaluated on different prompt sets ({where})"
        )
    if a.samples != b.samples:
        raise UserError(
            f"policies {names[0]} and {names[1]} have {a.samples} and {b.samples} samples per prompt"
        )


def decision_wins(greedy: np.ndarray, sampled: np.ndarray | None) -> np.ndarray:
    """Per prompt, what the headline win rate and the promotion gate rest on: the mean of the greedy
    result and the mean sampled result (greedy alone without samples)."""
    g = np.asarray(greedy, dtype=np.float64)
    if sampled is None or np.asarray(sampled).size == 0:
        return g
    out: np.ndarray = 0.5 * g + 0.5 * np.asarray(sampled, dtype=np.float64).mean(axis=0)
    return out


def _rows_of(objectives: Mapping[str, np.ndarray] | None, n: int) -> dict[str, np.ndarray] | None:
    """Per objective, the values as [R, N]."""
    if not objectives:
        return None
    return {o: np.asarray(v, dtype=np.float64).reshape(-1, n) for o, v in objectives.items()}


def _mean(x: np.ndarray | None) -> float | None:
    return None if x is None else float(np.mean(x))


def _share(values: np.ndarray | None, optimum: np.ndarray | None) -> float | None:
    if values is None or optimum is None:
        return None
    return float(np.mean(values) / np.mean(optimum))


def _by_category(
    categories: Sequence[str], wins: np.ndarray, per_policy: Mapping[str, np.ndarray | None],
    optimum: np.ndarray | None,
) -> dict[str, Any]:  # fmt: skip
    """``wins`` and ``per_policy`` values are [R, N] (R rows per prompt)."""
    out: dict[str, Any] = {}
    cats = np.asarray(categories, dtype=object)
    for c in sorted(set(categories)):
        idx = cats == c
        entry: dict[str, Any] = {"prompts": int(idx.sum()), **rate(wins[:, idx])}
        entry["policies"] = {
            name: {
                "judge": _mean(v[:, idx]) if v is not None else None,
                "shareOfOptimum": _share(
                    v[:, idx] if v is not None else None, optimum[idx] if optimum is not None else None
                ),
            }
            for name, v in per_policy.items()
        }
        if optimum is not None:
            entry["optimum"] = float(optimum[idx].mean())
        out[c] = entry
    return out


def _decoding(
    a: Judged, b: Judged, wins: np.ndarray, *, texts: tuple[list[str], list[str]], categories: Sequence[str],
    scores: tuple[np.ndarray | None, np.ndarray | None], objectives: tuple[Mapping[str, np.ndarray] | None, ...],
    optimum: np.ndarray | None,
) -> dict[str, Any]:  # fmt: skip
    """One decoding's numbers; ``wins``, ``scores`` and objective values are [R, N]."""
    out: dict[str, Any] = {"rows": int(wins.size), **rate(wins)}
    out["lengthControlledWinRate"] = length_controlled_win_rate(
        wins.ravel(), [len(t) for t in texts[0]], [len(t) for t in texts[1]]
    )
    policies: dict[str, Any] = {}
    for j, (p, t) in enumerate(zip((a, b), texts, strict=True)):
        obj = objectives[j]
        policies[p.name] = {
            "judge": _mean(scores[j]),
            "shareOfOptimum": _share(scores[j], optimum),
            "objectives": {o: float(np.mean(v)) for o, v in (obj or {}).items()},
            "length": length_stats(t),
            "diversity": diversity(t),
        }
    out["policies"] = policies
    out["byCategory"] = _by_category(categories, wins, {a.name: scores[0], b.name: scores[1]}, optimum)
    oa, ob = objectives
    if oa and ob:
        out["byObjective"] = {o: rate(row_wins(np.ravel(oa[o]), np.ravel(ob[o]))) for o in oa if o in ob}
    return out


def compare(
    a: Judged,
    b: Judged,
    *,
    categories: Sequence[str | None],
    greedy_wins: np.ndarray,
    sampled_wins: np.ndarray | None = None,
    optimum: np.ndarray | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """The metrics of one comparison: ``greedy_wins`` [N] and ``sampled_wins`` [S, N] are A's results
    by the judge; ``optimum`` [N] the best achievable score per prompt (a toy world's)."""
    check_same_prompts(a.decoded, b.decoded, (a.name, b.name))
    n = len(a.decoded.prompts)
    if n == 0:
        raise UserError("no prompts to compare on")
    cats = [c or "-" for c in categories]
    g = np.asarray(greedy_wins, dtype=np.float64).reshape(1, n)
    out: dict[str, Any] = {
        "comparison": f"{a.name} vs {b.name}",
        "policyA": a.name,
        "policyB": b.name,
        "prompts": n,
    }
    decide = decision_wins(g[0], sampled_wins)
    out |= rate(decide)

    def rows(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else np.asarray(x, dtype=np.float64).reshape(-1, n)

    out["greedy"] = _decoding(
        a, b, g, texts=(a.decoded.greedy, b.decoded.greedy), categories=cats, scores=(rows(a.scores), rows(b.scores)),
        objectives=(_rows_of(a.objectives, n), _rows_of(b.objectives, n)), optimum=optimum,
    )  # fmt: skip
    if sampled_wins is not None and a.decoded.samples:
        s = np.asarray(sampled_wins, dtype=np.float64).reshape(-1, n)
        flat = ([t for row in a.decoded.sampled for t in row], [t for row in b.decoded.sampled for t in row])
        sa, sb = rows(a.sampled_scores), rows(b.sampled_scores)
        sampled = _decoding(
            a, b, s, texts=flat, categories=cats, scores=(sa, sb),
            objectives=(_rows_of(a.sampled_objectives, n), _rows_of(b.sampled_objectives, n)), optimum=optimum,
        )  # fmt: skip
        sampled["samples"] = a.decoded.samples
        sampled["temperature"] = temperature
        if sa is not None and sb is not None:
            best_a, best_b = sa.max(axis=0, keepdims=True), sb.max(axis=0, keepdims=True)
            best_wins = row_wins(best_a, best_b)
            sampled["bestOfN"] = {
                **rate(best_wins),
                "policies": {
                    a.name: {"judge": _mean(best_a), "shareOfOptimum": _share(best_a, optimum)},
                    b.name: {"judge": _mean(best_b), "shareOfOptimum": _share(best_b, optimum)},
                },
                "byCategory": _by_category(cats, best_wins, {a.name: best_a, b.name: best_b}, optimum),
            }
        out["sampled"] = sampled
    if optimum is not None:
        out["optimum"] = {
            "mean": float(np.mean(optimum)),
            "byCategory": {c: float(np.mean(optimum[np.asarray(cats) == c])) for c in sorted(set(cats))},
        }
    return out


__all__ = [
    "LC_MIN_SIDE",
    "LEVEL",
    "Decoded",
    "Judged",
    "check_same_prompts",
    "compare",
    "decision_wins",
    "diversity",
    "length_controlled_win_rate",
    "length_stats",
    "rate",
    "win_rate",
]
