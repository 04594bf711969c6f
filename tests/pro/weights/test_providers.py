"""Weight providers: the fixed-weight baselines and mode selection (no ML library needed)."""

from __future__ import annotations

import numpy as np
import pytest

from pro.errors import UserError
from pro.weights import (
    FixedWeights,
    OracleWeights,
    UniformWeights,
    WeightProvider,
    make_provider,
    parse_fixed,
)

pytestmark = pytest.mark.unit

OBJ = ["helpfulness", "harmlessness", "humor"]


def test_uniform() -> None:
    p = UniformWeights(OBJ)
    w = p.weights(["a", "b"])
    assert isinstance(p, WeightProvider) and p.objectives == OBJ
    assert w.shape == (2, 3) and np.allclose(w, 1 / 3)
    assert p.weights([]).shape == (0, 3)


def test_fixed_normalises_and_validates() -> None:
    p = FixedWeights({"helpfulness": 2, "harmlessness": 1, "humor": 1})
    assert np.allclose(p.weights(["x"]), [[0.5, 0.25, 0.25]])
    with pytest.raises(UserError):
        FixedWeights({"a": -1, "b": 2})
    with pytest.raises(UserError):
        FixedWeights({"a": 0, "b": 0})


def test_parse_fixed() -> None:
    assert parse_fixed("a=0.5, b=0.5") == {"a": 0.5, "b": 0.5}
    for bad in ("a", "a=x", ""):
        with pytest.raises(UserError):
            parse_fixed(bad)


def test_oracle_and_modes() -> None:
    oracle = OracleWeights(OBJ, lambda p: {"helpfulness": 1.0, "harmlessness": 1.0, "humor": 2.0})
    assert np.allclose(oracle.weights(["q"]), [[0.25, 0.25, 0.5]])
    assert isinstance(make_provider("uniform", objectives=OBJ), UniformWeights)
    assert isinstance(make_provider("fixed", fixed={"a": 1.0}), FixedWeights)
    assert isinstance(make_provider("oracle", objectives=OBJ, oracle=lambda p: [1, 0, 0]), OracleWeights)
    with pytest.raises(UserError, match="unknown weights mode"):
        make_provider("random", objectives=OBJ)
    with pytest.raises(UserError, match="needs an adapter"):
        make_provider("adapter")
    with pytest.raises(UserError, match="expected"):
        make_provider("fixed", fixed={"a": 1.0}, objectives=["b"])
