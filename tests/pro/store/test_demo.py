"""``pro demo``'s store self-test: works from a relative output directory (as ``make demo`` passes it) and
leaves nothing behind, so the demo's store lists only the pipeline's artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.store.api import list_artifacts
from pro.store.demo import round_trip

pytestmark = pytest.mark.unit


def test_round_trip_from_a_relative_directory_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "demo-output").mkdir()
    summary = round_trip(Path("demo-output"))
    assert "verified 3 files" in summary and "file://" in summary
    assert list(Path("demo-output").iterdir()) == []
    assert list_artifacts(str(tmp_path / "demo-output")) == []
    assert not (tmp_path / "cache").exists()  # its cache was its own, gone with it
