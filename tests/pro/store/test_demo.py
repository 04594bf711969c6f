"""``pro demo``'s store step works from a relative output directory (as ``make demo`` passes it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pro.store.demo import round_trip

pytestmark = pytest.mark.unit


def test_round_trip_from_a_relative_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRO_CACHE_DIR", str(tmp_path / "cache"))
    summary = round_trip(Path("demo-output"))
    assert "verified" in summary and "file://" in summary
    assert os.path.isfile(tmp_path / "demo-output" / "store-demo" / "checkpoint" / "config.json")
