"""``w(x)`` from a stage's weight settings: the uniform floor, objectives checked, the oracle's world."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pro.align.weighting import compute_weights
from pro.errors import UserError
from pro.spec.align import WeightSettings

pytestmark = pytest.mark.unit


def test_weight_floor_mixes_with_uniform() -> None:
    s = WeightSettings(mode="fixed", fixed={"a": 1.0, "b": 0.0}, floor=0.2)
    w = compute_weights(s, ["a", "b"], ["x", "y"])
    assert w.shape == (2, 2) and abs(w[0, 0] - 0.9) < 1e-6 and abs(w[0, 1] - 0.1) < 1e-6
    with pytest.raises(ValidationError, match="floor"):
        WeightSettings(mode="uniform", floor=1.0)


def test_weights_over_other_objectives_are_a_user_error() -> None:
    with pytest.raises(UserError, match=r"expected \['a', 'b'\]"):
        compute_weights(WeightSettings(mode="fixed", fixed={"b": 1.0, "a": 1.0}), ["a", "b"], ["x"])


def test_oracle_needs_an_existing_world(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        compute_weights(WeightSettings(mode="oracle", world=str(tmp_path / "w")), ["a"], ["x"])
