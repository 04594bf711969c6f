"""What PRO's targets would be with perfect reward models: the true scores of the chosen responses.

``w*(x) = softmax(z(x, y_chosen) / tau)`` with ``z_k`` the k-th true score z-normalised over the set
(population mean and standard deviation per objective), as the target-weights stage computes from
reward-model scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pro.data.schema import PreferencePair
from pro.toy.world import World


def softmax(values: Sequence[float], tau: float) -> list[float]:
    """``softmax(values / tau)``, numerically stable."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    top = max(values)
    exps = [math.exp((v - top) / tau) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def oracle_targets(world: World, pairs: Sequence[PreferencePair], tau: float = 0.1) -> list[dict[str, float]]:
    """Target weights from the *true* scores of each pair's chosen response (one dict per pair)."""
    if not pairs:
        return []
    scores = [world.scores(p.prompt, p.chosen) for p in pairs]
    stats = {}
    for o in world.objectives:
        column = [s[o] for s in scores]
        mean = sum(column) / len(column)
        std = math.sqrt(sum((v - mean) ** 2 for v in column) / len(column))
        stats[o] = (mean, std if std > 0 else 1.0)
    out = []
    for s in scores:
        z = [(s[o] - stats[o][0]) / stats[o][1] for o in world.objectives]
        out.append(dict(zip(world.objectives, softmax(z, tau), strict=True)))
    return out


def agreement_by_category(
    world: World, pairs: Sequence[PreferencePair], targets: Sequence[dict[str, float]]
) -> dict[str, tuple[float, dict[str, float], int]]:
    """Per category: (share of prompts whose argmax target is the dominant objective, mean target, count)."""
    groups: dict[str, list[dict[str, float]]] = {}
    for pair, target in zip(pairs, targets, strict=True):
        groups.setdefault(pair.category or world.category_of(pair.prompt), []).append(target)
    out = {}
    for category, items in groups.items():
        dominant = world.dominant(category)
        hits = sum(max(t, key=lambda o: t[o]) == dominant for t in items)
        mean = {o: sum(t[o] for t in items) / len(items) for o in world.objectives}
        out[category] = (hits / len(items), mean, len(items))
    return out
