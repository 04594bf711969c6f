"""The world's optimum equals a brute-force enumeration; random worlds are deterministic, valid and reward
reading the prompt."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pro.spec.toy import world_from_data
from pro.toy.world import World

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

TINY = {
    "objectives": ["a", "b"],
    "categories": [
        {"name": "first", "weights": {"a": 0.7, "b": 0.3}, "templates": ["first {x} ?"], "slots": {"x": ["p", "q"]}},
        {"name": "second", "weights": {"a": 0.2, "b": 0.8}, "templates": ["second {x} ?"], "slots": {"x": ["p", "q"]}},
    ],
    "segments": [
        {"name": "s1", "group": "g", "markers": ["alpha"], "effects": {"a": 2.0},
         "texts": ["alpha one two three four five six", "alpha"]},
        {"name": "s2", "group": "g", "markers": ["beta"], "effects": {"b": 2.0}, "categoryEffects": {"first": {"a": -1.0}},
         "texts": ["beta"]},
        {"name": "s3", "markers": ["gamma"], "effects": {"a": 1.0, "b": -0.5}, "texts": ["gamma x y z", "gamma x"]},
    ],
    "lengthPenalty": {"freeTokens": 2, "perToken": {"a": 0.1}},
}  # fmt: skip


def brute_force(world: World, category: str) -> float:
    """Every way to pick at most one segment per group and one text variant of each, in spec order."""
    segments = world.spec.segments
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(segments):
        groups.setdefault(s.group or f"__{s.name}", []).append(i)
    best = float("-inf")
    for choice in itertools.product(*([None, *g] for g in groups.values())):
        picked = sorted(i for i in choice if i is not None)
        if not picked:
            continue
        for texts in itertools.product(*(segments[i].texts for i in picked)):
            best = max(best, world.utility_in(category, " ".join(texts)))
    return best


def test_the_optimum_is_the_brute_force_maximum_on_a_tiny_world() -> None:
    world = World(world_from_data(TINY))
    for category in world.categories:
        value, composition = world.optimum(category)
        assert value == pytest.approx(brute_force(world, category))
        assert world.utility_in(category, world.shortest_render(composition)) == pytest.approx(value)
    # first: "alpha gamma x" (s1 and s3, short texts): a = 2 + 1 − 0.1 (3 tokens, 2 free) → 0.7·2.9 + 0.3·(−0.5)
    assert world.optimum("first")[0] == pytest.approx(0.7 * 2.9 - 0.15)
    assert world.describe(world.optimum("second")[1]) == "s2"
    assert world.optimum_of("second q ?") == pytest.approx(world.optimum("second")[0])


def test_the_shipped_worlds_optimum() -> None:
    world = World.load(ROOT / "examples" / "toy" / "world.yaml")
    best = {c: (round(world.optimum(c)[0], 4), world.describe(world.optimum(c)[1])) for c in world.categories}
    assert best == {"howto": (2.4, "answer-good"), "risky": (4.0, "refusal+disclaimer"),
                    "jokes": (2.625, "answer-vague+joke"), "advice": (1.65, "answer-good")}  # fmt: skip
    for category in world.categories:
        assert world.optimum(category)[0] == pytest.approx(brute_force(world, category))


def test_random_worlds_are_deterministic_valid_and_prompt_dependent() -> None:
    from pro.toy.random_world import MIN_OPTIMUM, prompt_blind_best, random_world

    seen = set()
    for seed in range(6):
        spec = random_world(seed)
        assert spec == random_world(seed)
        world = World(spec)
        optima = [world.optimum(c)[0] for c in world.categories]
        assert (
            min(optima) >= MIN_OPTIMUM and 2 <= len(world.objectives) <= 4 and 3 <= len(world.categories) <= 5
        )
        assert prompt_blind_best(world) <= 0.75 * sum(optima) / len(optima)  # one answer for all falls short
        assert len({world.dominant(c) for c in world.categories}) >= 2
        seen.add((len(world.objectives), len(world.categories)))
    assert len(seen) > 1  # K and the categories vary


def test_a_random_world_generates_its_files(tmp_path: Path) -> None:
    from pro.spec.loader import dump_yaml
    from pro.toy.generate import generate
    from pro.toy.random_world import random_world

    spec = random_world(3).model_copy(update={"sizes": random_world(3).sizes.model_copy(update={
        "pairs_per_objective": 20, "test_pairs_per_objective": 5, "mixed_pairs": 10, "mixed_test_pairs": 5,
        "sft": 10, "heldout": 12})})  # fmt: skip
    (tmp_path / "w.yaml").write_text(dump_yaml(spec))
    summary = generate(tmp_path / "w.yaml", tmp_path / "out")
    assert summary.counts["heldout.jsonl"] == 12 and summary.counts["sft.jsonl"] == 10
