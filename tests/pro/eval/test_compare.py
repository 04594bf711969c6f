"""Win rates (ties ½), length statistics and the HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_win_rate_counts_ties_half() -> None:
    from pro.eval.compare import win_rate

    assert win_rate([1, 2, 3, 0], [0, 2, 4, 0]) == pytest.approx((1 + 0.5 + 0 + 0.5) / 4)
    with pytest.raises(ValueError, match="differ in length"):
        win_rate([1], [1, 2])


def test_compare_by_category_and_objectives() -> None:
    from pro.eval.compare import compare

    m = compare([1.0, 0.0], [0.0, 1.0], texts_a=["a b", ""], texts_b=["a", "b"], categories=["x", "y"],
                objectives_a={"h": [1, 2]}, objectives_b={"h": [0, 0]})  # fmt: skip
    assert m["winRate"] == 0.5 and m["byCategory"]["x"]["winRate"] == 1.0
    assert m["length"]["a"]["emptyShare"] == 0.5 and m["objectives"]["h"] == {"a": 1.5, "b": 0.0}


def test_report_has_tables_and_plots(tmp_path: Path) -> None:
    from pro.eval.compare import compare
    from pro.eval.report import plot_curves, plot_weights_by_category, smooth, write_report

    assert list(smooth([1, 3, 5], 2)) == [1, 2, 4]
    m = compare([1.0], [0.0], texts_a=["x"], texts_b=["y"])
    curves = {"pro": [{"step": 1.0, "trueUtility": 0.1}, {"step": 2.0, "trueUtility": 0.3}]}
    p1 = plot_curves(curves, "trueUtility", tmp_path / "c.png")
    assert plot_curves(curves, "missing", tmp_path / "m.png") is None
    p2 = plot_weights_by_category({"jokes": {"a": 0.2, "b": 0.8}}, ["a", "b"], tmp_path / "w.png")
    assert p1 is not None
    report = write_report(
        tmp_path, title="t", comparisons={"pro vs uniform": m}, plots=[("c", p1), ("w", p2)]
    )
    html = report.read_text()
    assert "pro vs uniform" in html and "c.png" in html and "w.png" in html
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
