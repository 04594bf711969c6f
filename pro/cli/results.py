"""The evaluation's result table in the terminal: ``pro run`` and ``pro eval`` print the same one (the rows
of :func:`pro.eval.table.result_rows`, which ``report.html`` shows too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def result_table(metrics: Mapping[str, Any]) -> Table:
    """Policy A vs policy B by name: win rates with 95 % intervals, judge, share of the optimum,
    per-objective rewards, diversity, length and per-category win rates, greedy and sampled."""
    from pro.eval.table import result_rows

    a, b = metrics["policyA"], metrics["policyB"]
    table = Table(title=f"result: {a} vs {b} on {metrics['prompts']} held-out prompts", title_justify="left")
    for col in ("METRIC", a, b):
        table.add_column(col, justify="right" if col != "METRIC" else "left")
    for label, cells in result_rows(metrics):
        table.add_row(label, *(c.text() for c in cells))
    return table


def print_result(console: Console, metrics: Mapping[str, Any]) -> None:
    """The table, then the headline (win rate and, in a toy world, each policy's share of the optimum)."""
    from pro.eval.table import headline

    console.print(result_table(metrics))
    console.print(headline(metrics), highlight=False)  # words wrapped at the console's width
