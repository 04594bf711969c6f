"""Where a model is loaded from: store artifacts fetched, hub ids as they are, paths that must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_a_model_written_as_a_path_that_is_not_there_is_a_user_error(tmp_path: Path) -> None:
    from pro.errors import UserError
    from pro.models.backbone import model_location

    with pytest.raises(UserError, match=r"humor-rm: no such model directory \(a hub id is written org/name"):
        model_location(str(tmp_path / "humor-rm"))
    assert model_location("org/name") == "org/name" and model_location(str(tmp_path)) == str(tmp_path)
