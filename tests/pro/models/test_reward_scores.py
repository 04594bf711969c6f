"""What a reward stage reports from its scores: pairwise accuracy and the reference set's statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pro.models.reward import ScoreStats, accuracy

pytestmark = pytest.mark.unit


def test_accuracy_is_the_share_of_pairs_whose_chosen_response_scored_higher() -> None:
    chosen, rejected = np.array([1.0, 0.5, 2.0, -1.0]), np.array([0.0, 0.5, 3.0, -2.0])
    assert accuracy(chosen, rejected) == 0.5  # a tie is not a win
    assert math.isnan(accuracy(np.array([]), np.array([])))


def test_statistics_of_a_constant_reference_set_do_not_divide_by_zero() -> None:
    stats = ScoreStats.of(np.array([2.0, 2.0, 2.0]))
    assert (stats.mean, stats.std, stats.count) == (2.0, 1.0, 3)
    assert ScoreStats.of(np.array([0.0, 2.0])).to_dict() == {"mean": 1.0, "std": 1.0, "count": 2}
