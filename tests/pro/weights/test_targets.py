"""z-scores and target weights: softmax(z / tau), the two normalisations, the reward bank's z-scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pro.errors import UserError
from pro.weights.targets import Normalizer, entropy, softmax_tau
from tests.pro.conftest import OBJECTIVES


@pytest.mark.unit
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


class _Scorer:
    """Stands in for a loaded reward model: only the recorded statistics matter here."""

    def __init__(self, objective: str, mean: float, std: float) -> None:
        from pro.models.reward import ScoreStats

        self.objective = objective
        self.stats = ScoreStats(mean, std, 10)


@pytest.mark.unit
def test_dataset_normalization_uses_the_rows_and_recorded_uses_the_models() -> None:
    raw = np.array([[1.0, 10.0], [3.0, 30.0]])
    scorers = [_Scorer("a", 0.0, 1.0), _Scorer("b", 0.0, 100.0)]
    ds = Normalizer.fit(raw, scorers, ["a", "b"], "dataset")  # type: ignore[arg-type]
    assert np.allclose(ds(raw), [[-1, -1], [1, 1]])
    rec = Normalizer.fit(raw, scorers, ["a", "b"], "recorded")  # type: ignore[arg-type]
    assert np.allclose(rec(raw), [[1, 0.1], [3, 0.3]])
    assert ds.to_dict(["a", "b"])["b"] == {"mean": 20.0, "std": 10.0}


@pytest.mark.unit
def test_constant_scores_do_not_divide_by_zero() -> None:
    raw = np.array([[2.0], [2.0]])
    assert np.allclose(Normalizer.fit(raw, [], [], "dataset")(raw), 0.0)


@pytest.mark.unit
def test_recorded_needs_statistics() -> None:
    s = _Scorer("a", 0.0, 1.0)
    s.stats = None  # type: ignore[assignment]
    with pytest.raises(UserError, match="reward model for a: no recorded score statistics"):
        Normalizer.fit(np.zeros((1, 1)), [s], ["a"], "recorded")  # type: ignore[list-item]


@pytest.mark.unit
def test_z_scores_keep_the_precision_of_the_scores() -> None:
    rec = Normalizer.recorded([_Scorer("a", 0.1, 0.3)], ["a"])  # type: ignore[list-item]
    raw32 = np.asarray([[0.7], [-1.3]], dtype=np.float32)
    z = rec(raw32)
    assert z.dtype == np.float32 and np.array_equal(z[:, 0], (raw32[:, 0] - 0.1) / 0.3)
    assert rec(raw32.astype(np.float64)).dtype == np.float64


@pytest.mark.ml
def test_reward_bank_z_scores_each_model_under_its_recorded_statistics(toy: dict[str, Any]) -> None:
    from pro.data import read_pairs
    from pro.models.reward import RewardScorer
    from pro.weights.targets import RewardBank

    pairs = read_pairs(Path(toy["world"]) / "mixed.test.jsonl")[:8]
    prompts, responses = [p.prompt for p in pairs], [p.chosen for p in pairs]
    bank = RewardBank.load(OBJECTIVES, toy["rms"])
    z = bank.z(prompts, responses)
    assert z.shape == (8, 3) and z.dtype == np.float32
    for k, o in enumerate(OBJECTIVES):
        scorer = RewardScorer.load(toy["rms"][o])
        assert scorer.stats is not None
        expected = (scorer.score(prompts, responses) - scorer.stats.mean) / scorer.stats.std
        assert np.array_equal(z[:, k], expected)
