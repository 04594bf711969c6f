"""Helpers of the store tests: a source directory with a few files, a store config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pro.store import Producer, StoreConfig

PRODUCER = Producer(kind="RewardModelTraining", name="rm-helpful")
SPEC = "ab" * 32


def make_tree(root: Path, sizes: dict[str, int]) -> Path:
    for rel, size in sizes.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return root


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {"config.json": 100, "model-00001.bin": 300_000, "sub/tok.txt": 7})


@pytest.fixture
def cfg(tmp_path: Path) -> StoreConfig:
    return StoreConfig(cache_dir=tmp_path / "cache", max_concurrency=4)
