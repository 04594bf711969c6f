"""A world with one objective (K = 1) generates, as the paper's single-objective check needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pro.testing.toy_core import Profile, write_world
from pro.toy.generate import generate
from pro.toy.world import World

pytestmark = pytest.mark.unit


def test_k1_world_generates_every_output(tmp_path: Path) -> None:
    small = Profile(pairs=60, test_pairs=20, mixed=40, mixed_test=10, heldout=10)
    spec = write_world(tmp_path / "world.yaml", small, objectives=["humor"])
    generate(spec, tmp_path / "toy", seed=0)
    truth = json.loads((tmp_path / "toy" / "truth.json").read_text())
    assert truth["objectives"] == ["humor"]
    assert all(list(c["weights"]) == ["humor"] for c in truth["categories"].values())
    assert sorted(p.name for p in (tmp_path / "toy" / "pairs").iterdir()) == [
        "humor.jsonl",
        "humor.test.jsonl",
    ]
    world = World.load(tmp_path / "toy")
    row = json.loads((tmp_path / "toy" / "mixed.jsonl").read_text().splitlines()[0])
    assert set(world.scores(row["prompt"], row["chosen"])) == {"humor"}
    assert world.utility(row["prompt"], row["chosen"]) >= world.utility(row["prompt"], row["rejected"])
