"""The promotion gate's numbers and decision, on known data."""

from __future__ import annotations

import numpy as np
import pytest

from pro.eval.drift import drift, total_variation, weights_by_category
from pro.eval.gate import bootstrap_interval, decide, row_wins
from pro.spec.promotion import PromotionRule

pytestmark = pytest.mark.unit


def test_row_wins_count_ties_half() -> None:
    assert list(row_wins([1.0, 0.0, 2.0], [0.0, 1.0, 2.0])) == [1.0, 0.0, 0.5]


def test_the_bootstrap_interval_brackets_the_rate_and_narrows_with_more_rows() -> None:
    rng = np.random.default_rng(1)
    small = (rng.random(40) < 0.7).astype(float)
    large = (rng.random(4000) < 0.7).astype(float)
    lo_s, hi_s = bootstrap_interval(small, 0.95)
    lo_l, hi_l = bootstrap_interval(large, 0.95)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 5  # ~1/sqrt(100) as wide
    assert 0.67 < lo_l < 0.70 < hi_l < 0.73
    assert bootstrap_interval([1.0] * 10) == (1.0, 1.0)  # no variation, no width


def test_the_rule_uses_the_lower_bound_when_asked_and_checks_regressions() -> None:
    wins = np.array([1.0] * 12 + [0.0] * 8)  # 0.60
    assert decide(wins, PromotionRule(min_win_rate=0.55)).passed
    strict = decide(wins, PromotionRule(min_win_rate=0.55, confidence=0.95))
    assert not strict.passed and strict.interval is not None and strict.interval[0] < 0.55
    assert strict.reasons == (f"lower 95% bound {strict.interval[0]:.3f} < minWinRate 0.550",)
    rule = PromotionRule(min_win_rate=0.5, max_regression={"harmlessness": 0.1, "humor": 0.5})
    failed = decide(wins, rule, {"harmlessness": -0.25, "humor": -0.2})
    assert failed.reasons == ("harmlessness fell by 0.250 > maxRegression 0.100",)
    missing = decide(wins, rule, {"harmlessness": 0.0})
    assert missing.reasons == ("no humor reward to check maxRegression against",)
    assert not decide([], PromotionRule()).passed  # no rows: nothing shows the policy is better


def test_drift_is_the_largest_total_variation_over_shared_categories() -> None:
    w = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]])
    by = weights_by_category(w, ["advice", "advice", "jokes"], ["helpfulness", "humor"])
    assert by == {"advice": {"helpfulness": pytest.approx(0.8), "humor": pytest.approx(0.2)},
                  "jokes": {"helpfulness": pytest.approx(0.2), "humor": pytest.approx(0.8)}}  # fmt: skip
    assert weights_by_category(w, [None, None, None], ["a", "b"]).keys() == {"all"}
    assert total_variation({"a": 0.8, "b": 0.2}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.3)
    before = {"advice": {"helpfulness": 0.5, "humor": 0.5}, "other": {"helpfulness": 1.0, "humor": 0.0}}
    assert drift(by, before) == pytest.approx(0.3)
    assert drift(by, {"unseen": {"a": 1.0}}) is None
