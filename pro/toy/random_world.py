"""Random toy worlds: random K, categories, segments and conflicting effects, each with a known optimum.

A default tuned on one world proves little; :func:`random_world` draws a world from a seed so the same
study runs on many.  A drawn world is kept only when the answer depends on the prompt: the best single
response for every prompt (what a prompt-blind policy can at most reach) falls short of the per-category
optimum by at least ``min_gap`` of it, every category's optimum is positive (so a share of it means
something: at least ``MIN_OPTIMUM``), every objective varies, and at least two objectives dominate some category.
"""

from __future__ import annotations

import random
from typing import Any

from pro.errors import UserError
from pro.spec.toy import ToyWorld, world_from_data
from pro.toy.world import World

OBJECTIVES = ["accuracy", "safety", "humor", "brevity", "warmth", "detail", "clarity", "creativity"]
CATEGORIES = ["cooking", "travel", "legal", "medical", "coding", "poetry", "finance", "sports", "garden"]
TEMPLATES = [
    "how do i {act} the {thing} ?",
    "tell me about {act} a {thing} .",
    "what is the best {thing} to {act} ?",
]
_SYLLABLES = ["ka", "lo", "mi", "ru", "te", "zo", "pa", "ne", "vi", "su", "do", "fa", "gi", "ho", "be", "xu"]
#: every category's optimum must reach this (a share of a near-zero optimum says nothing)
MIN_OPTIMUM = 0.5
#: draws before giving up on a seed's constraints
MAX_DRAWS = 500


def _words(rng: random.Random, n: int, taken: set[str], syllables: int = 3) -> list[str]:
    """``n`` new pseudo-words (never in ``taken``, which they are added to)."""
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(syllables))
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


def _weights(rng: random.Random, objectives: list[str], dominant: str) -> dict[str, float]:
    top = round(rng.uniform(0.45, 0.8), 2)
    rest = [rng.random() + 0.05 for _ in objectives[1:]]
    total = sum(rest)
    others = [round((1 - top) * r / total, 2) for r in rest]
    others = [min(v, round(top - 0.05, 2)) for v in others]
    names = [o for o in objectives if o != dominant]
    return {dominant: top, **dict(zip(names, others, strict=True))}


def _effect(rng: random.Random) -> float:
    return rng.choice([-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


def _draw(rng: random.Random, seed: int, *, heldout_per_category: int) -> dict[str, Any]:
    k = rng.choice([2, 3, 4])
    objectives = sorted(rng.sample(OBJECTIVES, k), key=OBJECTIVES.index)
    n_cat = rng.randint(3, 5)
    cat_names = rng.sample(CATEGORIES, n_cat)
    dominants = [objectives[i % k] for i in range(n_cat)]
    rng.shuffle(dominants)
    taken: set[str] = set()
    categories = []
    for name, dominant in zip(cat_names, dominants, strict=True):
        categories.append(
            {
                "name": name,
                "weights": _weights(rng, objectives, dominant),
                "templates": [f"{name} : {t}" for t in TEMPLATES],
                "slots": {"act": _words(rng, 10, taken), "thing": _words(rng, 8, taken)},
            }
        )
    filler = _words(rng, 40, taken, syllables=2)
    segments = []
    n_answers, n_extra = 3, rng.randint(2, 3)
    for i in range(n_answers + n_extra):
        marker = _words(rng, 1, taken, syllables=4)[0]
        texts = []
        for _ in range(2):
            words = rng.sample(filler, rng.randint(3, 9))
            words.insert(rng.randrange(len(words) + 1), marker)
            texts.append(" ".join(words) + " .")
        effects = {o: _effect(rng) for o in objectives if rng.random() < 0.6}
        overrides: dict[str, dict[str, float]] = {}
        for c in cat_names:  # where objectives conflict: the same segment helps here and hurts there
            if rng.random() < 0.4:
                o = rng.choice(objectives)
                base = effects.get(o, 0.0)
                flipped = -base * rng.choice([1.0, 1.5]) if base else _effect(rng)
                overrides[c] = {o: flipped}
        seg: dict[str, Any] = {"name": f"seg{i}", "markers": [marker], "texts": texts, "effects": effects}
        if i < n_answers:
            seg["group"] = "answer"
        if overrides:
            seg["categoryEffects"] = overrides
        segments.append(seg)
    penalised = rng.sample(objectives, rng.randint(1, min(2, k)))
    return {
        "name": f"random-{seed}",
        "seed": seed,
        "objectives": objectives,
        "categories": categories,
        "segments": segments,
        "lengthPenalty": {
            "freeTokens": 20,
            "perToken": {o: round(rng.uniform(0.01, 0.04), 3) for o in penalised},
        },
        "sizes": {
            "pairsPerObjective": 1500,
            "testPairsPerObjective": 300,
            "mixedPairs": 1000,
            "mixedTestPairs": 200,
            "sft": 600,
            "heldout": heldout_per_category * n_cat,
        },
        "pairMinMargin": 0.5,
    }


def prompt_blind_best(world: World) -> float:
    """The best mean true utility over the categories that one response for every prompt reaches (equal
    category shares): what a policy that ignores the prompt can at most get."""
    best = float("-inf")
    for comp in world.compositions():
        text = world.shortest_render(comp)
        mean = sum(world.utility_in(c, text) for c in world.categories) / len(world.categories)
        best = max(best, mean)
    return best


def acceptable(world: World, min_gap: float) -> bool:
    """Whether the world rewards reading the prompt (see the module docstring)."""
    optima = [world.optimum(c)[0] for c in world.categories]
    if min(optima) < MIN_OPTIMUM:
        return False
    mean_opt = sum(optima) / len(optima)
    if len({world.dominant(c) for c in world.categories}) < 2:
        return False
    for o in world.objectives:  # every objective must vary (its pairs need a margin)
        values = {
            world._scores(c, world.shortest_render(comp))[o]
            for c in world.categories
            for comp in world.compositions()
        }
        if max(values) - min(values) < 1.0:
            return False
    return prompt_blind_best(world) <= (1 - min_gap) * mean_opt


def random_world(seed: int, *, min_gap: float = 0.25, heldout_per_category: int = 40) -> ToyWorld:
    """A random toy world drawn from ``seed`` (deterministic) that passes :func:`acceptable`."""
    rng = random.Random(seed)
    for _ in range(MAX_DRAWS):
        data = _draw(rng, seed, heldout_per_category=heldout_per_category)
        spec = world_from_data(data, f"<random world {seed}>")
        if acceptable(World(spec, f"<random world {seed}>"), min_gap):
            return spec
    raise UserError(f"random world {seed}: no draw of {MAX_DRAWS} met min gap {min_gap}")


__all__ = ["acceptable", "prompt_blind_best", "random_world"]
