"""The result table of an evaluation, by policy name: one list of rows that ``pro run``, ``pro eval`` (rich)
and ``report.html`` all render, each cell naming the ``metrics.json`` path it shows.

A cell whose path starts with ``1-`` shows one minus that value (policy B's win rate is 1 − A's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: (key in metrics.json, label) of each decoding, in table order
DECODINGS = (("greedy", "greedy"), ("sampled", "sampled"), ("sampled.bestOfN", "best-of-n"))


@dataclass(frozen=True)
class Cell:
    """One number of the table and where it lives in ``metrics.json``."""

    path: str
    value: float | None
    kind: str = "float"
    """``float`` (3 places), ``share`` (a percentage), ``rate`` (with its interval), ``words`` (1 place),
    ``count``."""
    interval: tuple[float, float] | None = None

    def text(self) -> str:
        if self.value is None:
            return "–"
        v = self.value
        if self.kind == "share":
            return f"{v:.1%}"
        if self.kind == "words":
            return f"{v:.1f}"
        if self.kind == "count":
            return f"{v:.0f}"
        if self.kind == "rate" and self.interval is not None:
            return f"{v:.3f} [{self.interval[0]:.3f}, {self.interval[1]:.3f}]"
        return f"{v:.3f}"


Row = tuple[str, list[Cell]]


def lookup(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (a number indexes a list; ``1-`` prefix: one minus it); None when
    absent."""
    flip = path.startswith("1-")
    node: Any = metrics
    for part in (path[2:] if flip else path).split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    if flip and node is not None:
        return 1.0 - float(node)
    return node


def _rate_cells(metrics: Mapping[str, Any], base: str) -> list[Cell]:
    """A's win rate at ``base`` with its interval, and B's (one minus it)."""
    lo_hi = lookup(metrics, f"{base}.interval")
    a = lookup(metrics, f"{base}.winRate")
    cells = [Cell(f"{base}.winRate", a, "rate", tuple(lo_hi) if lo_hi else None)]
    flipped = (1.0 - lo_hi[1], 1.0 - lo_hi[0]) if lo_hi else None
    cells.append(Cell(f"1-{base}.winRate", None if a is None else 1.0 - a, "rate", flipped))
    return cells


def result_rows(metrics: Mapping[str, Any], *, categories: bool = True) -> list[Row]:
    """The table's rows: label, then one cell per policy (A, B)."""
    names = [metrics["policyA"], metrics["policyB"]]
    lo, hi = metrics["interval"]
    rows: list[Row] = [
        (
            "win rate, greedy and sampled ½ each (ties ½)",
            [Cell("winRate", metrics["winRate"], "rate", (lo, hi)),
             Cell("1-winRate", 1 - metrics["winRate"], "rate", (1 - hi, 1 - lo))],
        )
    ]  # fmt: skip
    for key, label in DECODINGS:
        if lookup(metrics, key) is None:
            continue
        pol = f"{key}.policies"
        rows.append((f"win rate, {label}", _rate_cells(metrics, key)))
        if key != "sampled.bestOfN":
            lc = lookup(metrics, f"{key}.lengthControlledWinRate")
            rows.append((f"length-controlled win rate, {label}",
                         [Cell(f"{key}.lengthControlledWinRate", lc), Cell(f"1-{key}.lengthControlledWinRate",
                                                                            None if lc is None else 1 - lc)]))  # fmt: skip
        if lookup(metrics, f"{pol}.{names[0]}.judge") is not None:
            rows.append(
                (
                    f"judge score (mean), {label}",
                    [Cell(f"{pol}.{n}.judge", lookup(metrics, f"{pol}.{n}.judge")) for n in names],
                )
            )
        if lookup(metrics, f"{pol}.{names[0]}.shareOfOptimum") is not None:
            rows.append((f"share of the optimum, {label}",
                         [Cell(f"{pol}.{n}.shareOfOptimum", lookup(metrics, f"{pol}.{n}.shareOfOptimum"), "share") for n in names]))  # fmt: skip
        if key == "sampled.bestOfN":
            continue
        for o in lookup(metrics, f"{pol}.{names[0]}.objectives") or {}:
            rows.append((f"{o} (mean), {label}",
                         [Cell(f"{pol}.{n}.objectives.{o}", lookup(metrics, f"{pol}.{n}.objectives.{o}")) for n in names]))  # fmt: skip
        rows.append((f"distinct completions, {label}",
                     [Cell(f"{pol}.{n}.diversity.distinct", lookup(metrics, f"{pol}.{n}.diversity.distinct"), "count") for n in names]))  # fmt: skip
        rows.append((f"distinct-2, {label}",
                     [Cell(f"{pol}.{n}.diversity.distinct2", lookup(metrics, f"{pol}.{n}.diversity.distinct2")) for n in names]))  # fmt: skip
        rows.append((f"length (mean words), {label}",
                     [Cell(f"{pol}.{n}.length.mean", lookup(metrics, f"{pol}.{n}.length.mean"), "words") for n in names]))  # fmt: skip
        if categories:
            for c, v in (lookup(metrics, f"{key}.byCategory") or {}).items():
                rows.append(
                    (
                        f"win rate, {c} ({v['prompts']}), {label}",
                        _rate_cells(metrics, f"{key}.byCategory.{c}"),
                    )
                )
    return rows


def headline(metrics: Mapping[str, Any]) -> str:
    """One line: the decision win rate and, in a toy world, each policy's share of the optimum."""
    a, b = metrics["policyA"], metrics["policyB"]
    lo, hi = metrics["interval"]
    line = f"{a} vs {b}: win rate {metrics['winRate']:.3f} [{lo:.3f}, {hi:.3f}]"
    shares = []
    for key, label in DECODINGS[:2]:
        sa = lookup(metrics, f"{key}.policies.{a}.shareOfOptimum")
        sb = lookup(metrics, f"{key}.policies.{b}.shareOfOptimum")
        if sa is not None and sb is not None:
            shares.append(f"{label} {a} {sa:.1%} / {b} {sb:.1%}")
    if shares:
        line += "; share of the optimum: " + ", ".join(shares)
    return line


__all__ = ["DECODINGS", "Cell", "Row", "headline", "lookup", "result_rows"]
