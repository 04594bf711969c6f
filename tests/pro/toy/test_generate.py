"""Generation: the exact output layout, determinism, disjoint splits, atomic writes, and the oracle check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pro.data import read_pairs, read_prompts
from pro.errors import UserError
from pro.toy.generate import generate
from pro.toy.oracle import agreement_by_category, oracle_targets, softmax
from pro.toy.world import World

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "toy" / "world.yaml"
WORLD2 = Path(__file__).parent / "fixtures" / "world2.yaml"


@pytest.fixture(scope="module")
def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "out"
    summary = generate(EXAMPLE, out)
    assert summary.seconds < 10
    return out


def test_layout_and_counts(example_out: Path) -> None:
    world = World.load(example_out)
    files = sorted(str(p.relative_to(example_out)) for p in example_out.rglob("*") if p.is_file())
    expected = [
        "heldout.jsonl",
        "mixed.jsonl",
        "mixed.test.jsonl",
        "sft.jsonl",
        "summary.json",
        "truth.json",
        "world.yaml",
    ]
    expected += [f"pairs/{o}{s}.jsonl" for o in world.objectives for s in ("", ".test")]
    assert files == sorted(expected)
    assert (example_out / "world.yaml").read_text() == EXAMPLE.read_text()
    summary = json.loads((example_out / "summary.json").read_text())
    sizes = world.spec.sizes
    assert summary["counts"]["pairs/humor.jsonl"] == sizes.pairs_per_objective == 3000
    assert summary["counts"]["mixed.jsonl"] == 1500 and summary["counts"]["heldout.jsonl"] == 300
    assert {"seed", "worldDigest", "version"} <= set(summary)
    truth = json.loads((example_out / "truth.json").read_text())
    assert truth["objectives"] == world.objectives
    assert truth["categories"]["risky"]["weights"] == world.category_weights("risky")
    for o in world.objectives:
        pairs = read_pairs(example_out / "pairs" / f"{o}.jsonl")
        assert {p.objective for p in pairs} == {o} and all(p.category for p in pairs)
        margin = [
            world.scores(p.prompt, p.chosen)[o] - world.scores(p.prompt, p.rejected)[o] for p in pairs[:300]
        ]
        assert min(margin) >= world.spec.pair_min_margin
    mixed = read_pairs(example_out / "mixed.jsonl")
    assert {p.objective for p in mixed} == {"mixed"}
    assert all(world.utility(p.prompt, p.chosen) > world.utility(p.prompt, p.rejected) for p in mixed)
    sft = read_prompts(example_out / "sft.jsonl")
    assert all(r.completion and r.category for r in sft)
    heldout = read_prompts(example_out / "heldout.jsonl")
    assert all(r.id and r.category == world.category_of(r.prompt) for r in heldout)
    assert len({r.prompt for r in heldout}) == len(heldout)


def test_prompt_splits_are_disjoint(example_out: Path) -> None:
    def prompts(*names: str) -> set[str]:
        out: set[str] = set()
        for name in names:
            path = example_out / name
            rows = read_pairs(path) if "pairs" in name or "mixed" in name else read_prompts(path)
            out |= {r.prompt for r in rows}
        return out

    objectives = World.load(example_out).objectives
    train = prompts("mixed.jsonl", "sft.jsonl", *(f"pairs/{o}.jsonl" for o in objectives))
    test = prompts("mixed.test.jsonl", *(f"pairs/{o}.test.jsonl" for o in objectives))
    heldout = prompts("heldout.jsonl")
    assert not train & test and not train & heldout and not test & heldout


def test_oracle_targets_point_to_the_dominant_objective(example_out: Path) -> None:
    """With the TRUE scores, PRO's targets (tau 0.1) name each category's dominant objective."""
    world = World.load(example_out)
    for name in ("mixed.jsonl", "mixed.test.jsonl"):
        pairs = read_pairs(example_out / name)
        targets = oracle_targets(world, pairs, tau=0.1)
        assert all(abs(sum(t.values()) - 1) < 1e-9 for t in targets)
        stats = agreement_by_category(world, pairs, targets)
        assert set(stats) == set(world.categories)
        for category, (agreement, mean, _count) in stats.items():
            assert agreement >= 0.97, (name, category, agreement)
            assert max(mean, key=lambda o: mean[o]) == world.dominant(category)
    # stable: the mean target per category hardly moves between the train and test sets
    train = agreement_by_category(
        world,
        read_pairs(example_out / "mixed.jsonl"),
        oracle_targets(world, read_pairs(example_out / "mixed.jsonl")),
    )
    test_pairs = read_pairs(example_out / "mixed.test.jsonl")
    test = agreement_by_category(world, test_pairs, oracle_targets(world, test_pairs))
    for category in world.categories:
        tv = 0.5 * sum(abs(train[category][1][o] - test[category][1][o]) for o in world.objectives)
        assert tv < 0.05, category
    assert oracle_targets(world, []) == []
    with pytest.raises(ValueError, match="tau"):
        softmax([1.0], 0)


def test_deterministic_per_seed_and_other_k(tmp_path: Path) -> None:
    a = generate(WORLD2, tmp_path / "a")
    b = generate(WORLD2, tmp_path / "b")
    c = generate(WORLD2, tmp_path / "c", seed=8)
    files = [p.relative_to(a.out) for p in sorted(a.out.rglob("*")) if p.is_file()]
    assert all((a.out / f).read_bytes() == (b.out / f).read_bytes() for f in files)
    assert (a.out / "mixed.jsonl").read_bytes() != (c.out / "mixed.jsonl").read_bytes()
    assert "seed: 8" in (c.out / "world.yaml").read_text() and World.load(c.out).spec.seed == 8
    assert (a.out / "pairs" / "politeness.test.jsonl").exists()
    world = World.load(a.out)
    pairs = read_pairs(a.out / "mixed.jsonl")
    for category, (agreement, _mean, _n) in agreement_by_category(
        world, pairs, oracle_targets(world, pairs)
    ).items():
        assert agreement >= 0.97, category


def test_output_directory_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    generate(WORLD2, out)  # an empty directory is fine
    with pytest.raises(UserError, match="not empty; pass --force"):
        generate(WORLD2, out)
    generate(WORLD2, out, seed=9, force=True)
    assert World.load(out).spec.seed == 9
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        generate(WORLD2, tmp_path / "file")
    with pytest.raises(UserError, match="cannot write"):
        generate(WORLD2, tmp_path / "file" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]  # no temp leftovers


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(WORLD2.read_text().replace(old, new))
    return path


def test_impossible_worlds_fail_cleanly(tmp_path: Path) -> None:
    few = _variant(tmp_path, "heldout: 12}", "heldout: 500}")
    with pytest.raises(UserError, match=r"held-out prompts but sizes\.heldout asks for"):
        generate(few, tmp_path / "o1")
    margin = _variant(tmp_path, "pairMinMargin: 0.5", "pairMinMargin: 50")
    with pytest.raises(UserError, match="cannot draw pairs for objective"):
        generate(margin, tmp_path / "o2")
    tiny = _variant(tmp_path, "a: [one, two, three, four, five, six]", "a: [one]").read_text()
    tiny = tiny.replace("b: [seven, eight, nine, ten, eleven, twelve]", "b: [seven]")
    (tmp_path / "t.yaml").write_text(tiny)
    with pytest.raises(UserError, match="too few to split"):
        generate(tmp_path / "t.yaml", tmp_path / "o3")
    clash = _variant(tmp_path, '"compute {a} plus {b} ."', '"good {a} , how are you {b} ?"').read_text()
    clash = clash.replace("time: [morning,", "time: [one,").replace("mood: [today,", "mood: [seven,")
    (tmp_path / "c.yaml").write_text(clash)
    with pytest.raises(UserError, match="belongs to categories"):
        generate(tmp_path / "c.yaml", tmp_path / "o4")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".o", "o"))]
