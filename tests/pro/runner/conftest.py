"""The local runner's fixtures: the small toy world its pipelines read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.testing.toy_pipeline import small_world


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small toy world, generated once per worker (session-scoped, so that the tests of a module
    are not pinned to one worker); tests read it and never write into it."""
    return small_world(tmp_path_factory.mktemp("world") / "toy")
