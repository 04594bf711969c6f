"""Win rates with intervals, the length-controlled win rate, diversity, the comparison's numbers and the
self-contained report (its numbers are metrics.json's, checked by parsing the HTML)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pro.errors import UserError

pytestmark = pytest.mark.unit


def test_win_rate_counts_ties_half() -> None:
    from pro.eval.compare import win_rate

    assert win_rate([1, 2, 3, 0], [0, 2, 4, 0]) == pytest.approx((1 + 0.5 + 0 + 0.5) / 4)
    with pytest.raises(ValueError, match="differ in length"):
        win_rate([1], [1, 2])


def test_the_interval_on_known_data() -> None:
    from pro.eval.compare import rate

    r = rate([1.0] * 80 + [0.0] * 20)  # binomial sd 0.04: a 95 % interval of about ±0.08
    assert r["winRate"] == pytest.approx(0.8)
    lo, hi = r["interval"]
    assert 0.70 < lo < 0.75 and 0.85 < hi < 0.90
    assert rate([0.5] * 10)["interval"] == [0.5, 0.5]


def test_the_length_controlled_win_rate_removes_what_length_explains() -> None:
    from pro.eval.compare import length_controlled_win_rate

    rng = np.random.default_rng(0)
    n = 4000
    diff = rng.normal(30, 40, n)  # A is mostly longer ...
    x = np.tanh(diff / diff.std())
    by_length = (rng.random(n) < 1 / (1 + np.exp(-2.5 * x))).astype(float)  # ... and wins only by length
    raw = by_length.mean()
    lc = length_controlled_win_rate(by_length, diff + 100, np.full(n, 100.0))
    assert raw > 0.65 and abs(lc - 0.5) < 0.05
    fair = (rng.random(n) < 0.7).astype(float)  # wins that length does not explain stay
    assert length_controlled_win_rate(fair, diff + 100, np.full(n, 100.0)) == pytest.approx(0.7, abs=0.03)
    ties = np.full(n, 0.5)
    assert length_controlled_win_rate(ties, diff, np.zeros(n)) == pytest.approx(0.5, abs=1e-6)
    # A longer on every row: its wins cannot be told apart from its length
    assert length_controlled_win_rate(fair, np.abs(diff) + 101, np.full(n, 100.0)) is None


def test_diversity_counts_distinct_completions_and_ngrams() -> None:
    from pro.eval.compare import diversity

    d = diversity(["a b c", "a b c", "a b d"])
    assert d["distinct"] == 2 and d["distinctShare"] == pytest.approx(2 / 3)
    assert d["distinct1"] == pytest.approx(4 / 9) and d["distinct2"] == pytest.approx(3 / 6)


def _metrics() -> dict[str, Any]:
    from pro.eval.compare import Decoded, Judged, compare
    from pro.eval.gate import row_wins

    prompts = ["p1", "p2", "p3", "p4"]
    a = Decoded(prompts, ["x y", "x", "", "z z z"], [["x", "y", "q", "z"], ["x y z", "y", "q q", "z"]])
    b = Decoded(prompts, ["y", "y", "y", "y"], [["y", "y", "y", "y"], ["y y", "y", "y", "y"]])
    sa, sb = np.array([1.0, 0.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0, 4.0])
    ssa, ssb = np.array([[1.0, 1, 1, 1], [2, 0, 0, 0]]), np.array([[0.0, 0, 0, 0], [0, 1, 1, 1]])
    ja = Judged("pro", a, sa, ssa, {"h": sa}, {"h": ssa})
    jb = Judged("uniform", b, sb, ssb, {"h": sb}, {"h": ssb})
    return compare(ja, jb, categories=["c1", "c1", "c2", "c2"], greedy_wins=row_wins(sa, sb),
                   sampled_wins=row_wins(ssa, ssb), optimum=np.array([4.0, 4.0, 2.0, 6.0]), temperature=0.7)  # fmt: skip


def test_compare_greedy_sampled_best_of_n_categories_objectives_and_optimum() -> None:
    m = _metrics()
    assert m["policyA"] == "pro" and m["prompts"] == 4
    assert m["greedy"]["winRate"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert m["sampled"]["winRate"] == pytest.approx((4 + 1) / 8) and m["sampled"]["samples"] == 2
    assert m["winRate"] == pytest.approx(0.5 * m["greedy"]["winRate"] + 0.5 * m["sampled"]["winRate"])
    best = m["sampled"]["bestOfN"]
    assert best["policies"]["pro"]["judge"] == pytest.approx(np.mean([2, 1, 1, 1]))
    assert best["policies"]["uniform"]["shareOfOptimum"] == pytest.approx(3 / 16)
    assert m["greedy"]["policies"]["pro"]["shareOfOptimum"] == pytest.approx(6 / 16)
    assert m["greedy"]["byCategory"]["c2"]["policies"]["pro"]["shareOfOptimum"] == pytest.approx(5 / 8)
    assert m["greedy"]["byObjective"]["h"]["winRate"] == m["greedy"]["winRate"]
    assert m["optimum"] == {"mean": 4.0, "byCategory": {"c1": 4.0, "c2": 4.0}}
    assert m["greedy"]["policies"]["uniform"]["diversity"]["distinct"] == 1
    assert m["greedy"]["policies"]["pro"]["length"]["emptyShare"] == 0.25


def test_policies_on_different_prompt_sets_are_refused() -> None:
    from pro.eval.compare import Decoded, Judged, compare

    a = Judged("pro", Decoded(["p1", "p2"], ["x", "y"]))
    b = Judged("uniform", Decoded(["p1", "p3"], ["x", "y"]))
    with pytest.raises(
        UserError, match=r"pro and uniform were evaluated on different prompt sets \(row 1: 'p2' vs 'p3'\)"
    ):
        compare(a, b, categories=[None, None], greedy_wins=np.array([0.5, 0.5]))


class _Cells(HTMLParser):
    """Every ``<td data-key=...>`` of a page with its text, the section ids and the image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str]] = []
        self.sections: list[str] = []
        self.images: list[str] = []
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-key"):
            self._key = a["data-key"]
            self.cells.append((self._key or "", ""))
        if tag == "section":
            self.sections.append(a.get("id") or "")
        if tag == "img":
            self.images.append(a.get("src") or "")

    def handle_data(self, data: str) -> None:
        if self._key is not None:
            key, text = self.cells[-1]
            self.cells[-1] = (key, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._key = None


def check_report_matches(html: str, metrics: dict[str, Any]) -> _Cells:
    """Every number the page shows is the one at its ``metrics.json`` path (to the places shown)."""
    from pro.eval.table import lookup

    page = _Cells()
    page.feed(html)
    assert page.cells, "no numbers in the report"
    for key, text in page.cells:
        value = lookup(metrics, key)
        if text == "–":
            assert value is None, key
            continue
        number = re.match(r"-?\d+(\.\d+)?", text)
        assert number is not None, (key, text)
        places = len(number.group(1) or ".") - 1
        shown = float(number.group(0)) / (100 if text.endswith("%") else 1)
        tol = 0.5 * 10**-places / (100 if text.endswith("%") else 1) + 1e-9
        assert value is not None and abs(shown - float(value)) <= tol, (key, text, value)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)  # the page travels alone
    return page


def test_the_report_shows_metrics_json_numbers_in_its_sections(tmp_path: Path) -> None:
    from pro.eval.report import curves_image, heatmap_image, smooth, write_report

    assert list(smooth([1, 3, 5], 2)) == [1, 2, 4]
    m = _metrics()
    m["judge"] = {"kind": "world", "source": "toy"}
    m["upstream"] = {"rewardModels": {"h": {"heldoutAccuracy": 0.93}}, "adapter": {"heldoutKL": 0.01}}
    m["adapterWeightsByCategory"] = {"c1": {"h": 0.7, "k": 0.3}, "c2": {"h": 0.1, "k": 0.9}}
    m["trueWeightsByCategory"] = {"c1": {"h": 0.8, "k": 0.2}, "c2": {"h": 0.2, "k": 0.8}}
    m["samples"] = {"c1": [{"kind": "worst", "prompt": "p2", "texts": {"pro": "x", "uniform": "y"},
                            "scores": {"pro": 0.0, "uniform": 0.0}, "winA": 0.5}]}  # fmt: skip
    curves = curves_image({"pro": [{"step": 1.0, "trueUtility": 0.1, "z/h": 0.2, "kl": 0.01},
                                   {"step": 2.0, "trueUtility": 0.3, "z/h": 0.4, "kl": 0.02}]})  # fmt: skip
    assert curves is not None and curves_image({"pro": []}) is None
    heat = heatmap_image(m["adapterWeightsByCategory"], ["h", "k"], m["trueWeightsByCategory"])
    metrics = json.loads(json.dumps(m))  # what metrics.json holds
    html = write_report(tmp_path, metrics, title="t", curves=curves, heatmap=heat).read_text()
    page = check_report_matches(html, metrics)
    assert {
        "result",
        "categories",
        "objectives",
        "optimum",
        "upstream",
        "weights",
        "curves",
        "samples",
    } <= set(page.sections)
    assert len(page.images) == 2 and not list(tmp_path.glob("*.png"))
    keys = {k for k, _ in page.cells}
    assert {"sampled.bestOfN.policies.pro.shareOfOptimum", "trueWeightsByCategory.c1.h", "upstream.adapter.heldoutKL",
            "greedy.byObjective.h.winRate", "1-greedy.winRate", "samples.c1.0.winA"} <= keys  # fmt: skip


def test_the_terminal_table_has_the_reports_rows() -> None:
    from rich.console import Console

    from pro.cli.results import print_result

    console = Console(width=200, record=True)
    print_result(console, _metrics())
    out = console.export_text()
    assert "pro" in out and "uniform" in out and "share of the optimum, best-of-n" in out
    assert (
        "win rate, c2 (2), sampled" in out and "share of the optimum: greedy pro 37.5% / uniform 31.2%" in out
    )
