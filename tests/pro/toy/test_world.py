"""The toy world: true scores of arbitrary text, conflicting objectives, no single best fixed weight."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pro.spec import SpecError
from pro.spec.toy import load_world
from pro.toy.world import UnknownPrompt, World, tokenize

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "toy" / "world.yaml"
WORLD2 = Path(__file__).parent / "fixtures" / "world2.yaml"


@pytest.fixture(scope="module")
def world() -> World:
    return World.load(EXAMPLE)


def test_example_world_shape(world: World) -> None:
    assert world.objectives == ["helpfulness", "harmlessness", "humor"]
    assert len(world.categories) >= 4
    for category in world.categories:
        assert abs(sum(world.category_weights(category).values()) - 1) < 1e-9
    assert {world.dominant(c) for c in world.categories} == set(world.objectives)


def test_category_of_own_and_foreign_prompts(world: World) -> None:
    for category in world.categories:
        for prompt in world.prompt_pool(category)[:20]:
            assert world.category_of(prompt) == category
            assert world.true_weights(prompt) == world.category_weights(category)
    assert world.category_of("could you tell me a joke about penguins") == "jokes"
    assert world.category_of("<W1>0.2 how can i mix bleach with ammonia") == "risky"
    with pytest.raises(UnknownPrompt, match="matches no category"):
        world.category_of("zzz qqq")


def test_scores_read_any_text(world: World) -> None:
    prompt = "how can i disable a smoke detector tonight ?"
    safe = "sorry , i cannot help with that request . please be careful and ask a professional for safety ."
    assert world.segments_in(safe) == ["refusal", "disclaimer"]
    assert world.scores(prompt, safe) == {"helpfulness": 0.0, "harmlessness": 5.0, "humor": 0.0}
    # arbitrary text: no markers, only the length penalty; repeating a marker counts once
    assert world.scores(prompt, "") == dict.fromkeys(world.objectives, 0.0)
    assert world.scores(prompt, "CANNOT HELP!")["harmlessness"] == 2.0
    long = " ".join(["haha"] * 40)
    assert world.scores(prompt, long)["humor"] == pytest.approx(2.0 - 0.02 * 10)
    assert world.utility(prompt, safe) == pytest.approx(0.8 * 5.0)
    assert world.utility(prompt, safe, {"helpfulness": 1.0}) == 0.0
    with pytest.raises(Exception, match="unknown objective"):
        world.utility(prompt, safe, {"speed": 1.0})
    assert tokenize("Hi, there!") == ["hi", ",", "there", "!"]
    vocab = world.vocabulary()
    assert "penguins" in vocab and "haha" in vocab


def test_objectives_conflict_across_categories(world: World) -> None:
    howto = "how do i tune a guitar quickly ?"
    risky = "how can i handle a loaded gun alone ?"
    disclaimer = "please be careful and ask a professional for safety ."
    assert world.scores(howto, disclaimer)["helpfulness"] < 0
    assert world.scores(risky, disclaimer)["harmlessness"] > 0
    joke = "haha , what do you call a sleepy bull ? a bulldozer !"
    assert world.scores(risky, joke)["humor"] > 0 and world.scores(risky, joke)["harmlessness"] < 0
    best = {c: world.ranked_compositions(c)[0][1] for c in world.categories}
    dominant = {c: world.dominant(c) for c in world.categories}
    for a, b in itertools.combinations(world.categories, 2):
        if dominant[a] != dominant[b]:  # a different priority must mean a different best response
            assert best[a] != best[b], (a, b, best)
    assert len(set(best.values())) >= len(world.objectives), best


def test_no_fixed_weight_vector_is_best_everywhere(world: World) -> None:
    """For every fixed weight vector on a grid, some category's best-under-fixed response loses utility."""
    optimum = {c: world.ranked_compositions(c)[0][0] for c in world.categories}
    steps = [i / 10 for i in range(11)]
    checked = 0
    for a, b in itertools.product(steps, steps):
        if a + b > 1 + 1e-9:
            continue
        fixed = dict(zip(world.objectives, (a, b, 1 - a - b), strict=True))
        losses = []
        for category in world.categories:
            _, comp = world.ranked_compositions(category, fixed)[0]
            true = world.ranked_compositions(category)
            utility = next(u for u, c in true if c == comp)
            losses.append(optimum[category] - utility)
        assert max(losses) > 0.1, fixed
        checked += 1
    assert checked == 66


def test_second_world_with_other_objectives() -> None:
    w2 = World.load(WORLD2)
    assert w2.objectives == ["accuracy", "politeness"]
    assert w2.category_weights("arithmetic") == {"accuracy": 0.75, "politeness": 0.25}
    assert w2.scores("what is two plus nine ?", "the answer is a number .") == {
        "accuracy": 2.0,
        "politeness": 0.0,
    }
    assert w2.ranked_compositions("arithmetic")[0][1] != w2.ranked_compositions("smalltalk")[0][1]


def _bad_world(tmp_path: Path, old: str, new: str) -> str:
    text = WORLD2.read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_world(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{accuracy: 3, politeness: 1}",
            "{accuracy: 3, politenes: 1}",
            "bad.yaml:7: categories[0].weights: missing weight for politeness",
        ),
        (
            "{accuracy: 3, politeness: 1}",
            "{accuracy: 1, politeness: 1}",
            "bad.yaml:7: categories[0].weights: the largest weight must be unique",
        ),
        (
            "{accuracy: 3, politeness: 1}",
            "{accuracy: -3, politeness: 1}",
            "categories[0].weights.accuracy: weights must be ≥ 0",
        ),
        (
            "what is {a} plus {b} ?",
            "what is {a} plus {c} ?",
            "bad.yaml:8: categories[0].templates[0]: slot {c} has no fillers",
        ),
        ("what is {a} plus {b} ?", "what is {a plus {b} ?", "invalid template"),
        (
            'texts: ["the answer is a number ."]',
            'texts: ["a number ."]',
            "segments[0].texts[0]: contains none of the segment's markers",
        ),
        (
            'texts: ["the answer is a number ."]',
            'texts: ["the answer is a number , thank you ."]',
            "contains marker 'thank you' of segment 'greeting'",
        ),
        (
            "smalltalk: {accuracy: 0, politeness: -1}",
            "chat: {accuracy: 0, politeness: -1}",
            "segments[0].categoryEffects.chat: unknown category 'chat'",
        ),
        (
            "effects: {accuracy: 2}",
            "effects: {speed: 2}",
            "segments[0].effects.speed: unknown objective 'speed'",
        ),
        (
            "perToken: {accuracy: 0.01}",
            "perToken: {wit: 0.01}",
            "lengthPenalty.perToken.wit: unknown objective",
        ),
        ("objectives: [accuracy, politeness]", "objectives: [accuracy, accuracy]", "duplicate objective"),
        (
            "objectives: [accuracy, politeness]",
            "objectives: [Accuracy, politeness]",
            "objective names must match",
        ),
        ("pairMinMargin: 0.5", "pairMinMargn: 0.5", "did you mean 'pairMinMargin'"),
        ("name: smalltalk", "name: arithmetic", "categories[1].name: duplicate category"),
    ],
)
def test_world_spec_errors_carry_path_and_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in _bad_world(tmp_path, old, new)


def test_world_spec_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        World.load(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="no such file"):
        World.load(tmp_path)  # a directory without world.yaml
