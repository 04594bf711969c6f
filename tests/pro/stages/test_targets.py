"""Target weights and the data split (pure numpy parts)."""

from __future__ import annotations

import numpy as np
import pytest

from pro.data.schema import PreferencePair
from pro.stages.data import split_by_prompt
from pro.stages.targets import entropy, softmax_tau

pytestmark = pytest.mark.unit


def test_softmax_tau_sharpens_with_small_tau() -> None:
    z = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    sharp, soft = softmax_tau(z, 0.05), softmax_tau(z, 1.0)
    assert np.allclose(sharp.sum(1), 1) and np.allclose(soft.sum(1), 1)
    assert sharp[0, 0] > 0.99 and soft[0, 0] < 0.7
    assert np.allclose(sharp[1], 1 / 3)
    assert entropy(sharp)[0] < entropy(soft)[0]
    assert np.isfinite(softmax_tau(np.array([[1000.0, -1000.0]]), 0.01)).all()
    with pytest.raises(ValueError):
        softmax_tau(z, 0.0)


def test_split_by_prompt_is_deterministic_and_grouped() -> None:
    pairs = [PreferencePair(f"p{i % 50}", "a", "b", "o") for i in range(200)]
    train, held = split_by_prompt(pairs, 0.2, seed=1)
    assert len(train) + len(held) == 200 and held
    assert not {p.prompt for p in train} & {p.prompt for p in held}
    assert split_by_prompt(pairs, 0.2, seed=1) == (train, held)
    assert split_by_prompt(pairs, 0.0, seed=1) == (pairs, [])
