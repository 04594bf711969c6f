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


class _Scorer:
    """Stands in for a loaded reward model: only the recorded statistics matter here."""

    def __init__(self, objective: str, mean: float, std: float) -> None:
        from pro.models.reward import ScoreStats

        self.objective = objective
        self.stats = ScoreStats(mean, std, 10)


def test_dataset_normalization_uses_the_rows_and_recorded_uses_the_models() -> None:
    from pro.stages.targets import Normalizer

    raw = np.array([[1.0, 10.0], [3.0, 30.0]])
    scorers = [_Scorer("a", 0.0, 1.0), _Scorer("b", 0.0, 100.0)]
    ds = Normalizer.fit(raw, scorers, "dataset")  # type: ignore[arg-type]
    assert np.allclose(ds(raw), [[-1, -1], [1, 1]])
    rec = Normalizer.fit(raw, scorers, "recorded")  # type: ignore[arg-type]
    assert np.allclose(rec(raw), [[1, 0.1], [3, 0.3]])
    assert ds.to_dict(["a", "b"])["b"] == {"mean": 20.0, "std": 10.0}


def test_constant_scores_do_not_divide_by_zero() -> None:
    from pro.stages.targets import Normalizer

    raw = np.array([[2.0], [2.0]])
    assert np.allclose(Normalizer.fit(raw, [], "dataset")(raw), 0.0)


def test_recorded_needs_statistics() -> None:
    from pro.stages.targets import Normalizer

    s = _Scorer("a", 0.0, 1.0)
    s.stats = None  # type: ignore[assignment]
    with pytest.raises(ValueError, match="without recorded statistics: a"):
        Normalizer.fit(np.zeros((1, 1)), [s], "recorded")  # type: ignore[list-item]
