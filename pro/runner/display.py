"""What ``pro run`` shows while it runs and when it ends: one line per stage, a summary, the result."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pro.planner import Plan
from pro.runner.loop import Outcome, StageRecord

COLOURS = {
    "Succeeded": "green",
    "Running": "cyan",
    "Failed": "red",
    "Blocked": "red",
    "Backoff": "yellow",
    "Cancelling": "yellow",
    "Cancelled": "yellow",
}


def duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _state(rec: StageRecord) -> str:
    if rec.phase == "Succeeded" and rec.reused_from is not None:
        return f"Reused (from run {rec.reused_from})"
    if rec.phase == "Succeeded" and rec.cached:
        return "Succeeded (cached)"
    if rec.attempts > 1 and rec.phase in ("Running", "Backoff", "Failed"):
        return f"{rec.phase} (attempt {rec.attempts})"
    return rec.phase


def _progress(rec: StageRecord) -> str:
    if rec.progress is None:
        return ""
    step, total = rec.progress
    return f"{step}/{total}"


def stage_table(records: Mapping[str, StageRecord], now: float, *, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for col in ("STAGE", "KIND", "STATE", "ELAPSED", "STEP", "MESSAGE"):
        table.add_column(col, no_wrap=col != "MESSAGE", overflow="fold")
    for rec in records.values():
        elapsed = rec.elapsed(now)
        table.add_row(
            rec.name,
            rec.kind,
            Text(_state(rec), style=COLOURS.get(rec.phase, "")),
            duration(elapsed) if elapsed else "",
            _progress(rec),
            rec.message if rec.phase not in ("Running", "Succeeded") else "",
        )
    return table


class LiveDisplay:
    """A table redrawn in place (a terminal)."""

    def __init__(self, console: Console, header: str) -> None:
        self.console, self.header = console, header
        self.live = Live(console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, plan: Plan, records: Mapping[str, StageRecord]) -> None:
        self.live.update(
            Group(Text(f"{self.header}  [{plan.phase.value}]"), stage_table(records, time.monotonic()))
        )


class LineDisplay:
    """A line per change: a stage's state, or its progress every quarter (logs, CI, pipes)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.seen: dict[str, tuple[str, int, str]] = {}
        self.quarter: dict[str, int] = {}

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.out.flush()

    def update(self, plan: Plan, records: Mapping[str, StageRecord]) -> None:
        now = time.monotonic()
        for rec in records.values():
            key = (rec.phase, rec.attempts, rec.message if rec.phase != "Running" else "")
            parts: list[str] = []
            if self.seen.get(rec.name) != key:
                self.seen[rec.name] = key
                parts = [_state(rec), rec.message]
            elif rec.phase == "Running" and rec.progress is not None and rec.progress[1] > 0:
                q = 4 * rec.progress[0] // rec.progress[1]
                if q > self.quarter.get(rec.name, 0):
                    self.quarter[rec.name] = q
                    parts = ["Running", f"step {_progress(rec)}"]
            if parts:
                stamp = time.strftime("%H:%M:%S")
                elapsed = rec.elapsed(now)
                line = f"{stamp}  {rec.name:<18} {' '.join(p for p in parts if p)}"
                if elapsed and rec.phase != "Running":
                    line += f"  ({duration(elapsed)})"
                print(line, file=self.out, flush=True)


def summary(console: Console, outcome: Outcome, header: str) -> None:
    """The final table: every stage's state, attempts, time and artifact (or log, when it failed)."""
    table = Table(
        title=f"{header}: {outcome.phase.value} in {duration(outcome.seconds)}", title_justify="left"
    )
    for col in ("STAGE", "STATE", "ATTEMPTS", "TIME", "ARTIFACT / LOG"):
        table.add_column(col, overflow="fold")
    for rec in outcome.records.values():
        where = rec.output if rec.phase == "Succeeded" else (str(rec.log) if rec.attempts else rec.message)
        table.add_row(
            rec.name,
            Text(_state(rec), style=COLOURS.get(rec.phase, "")),
            str(rec.attempts) if rec.attempts else "-",
            duration(rec.seconds) if rec.seconds else "-",
            where,
        )
    console.print(table)


def result_table(metrics: Mapping[str, Any], a: str, b: str) -> Table:
    """PRO vs the baseline: win rate, the judge's mean, per-objective rewards, lengths."""
    table = Table(title=f"result: {a} vs {b} on {metrics['prompts']} held-out prompts", title_justify="left")
    for col in ("METRIC", a, b):
        table.add_column(col, justify="right" if col != "METRIC" else "left")
    table.add_row(f"win rate of {a} (ties ½)", f"{metrics['winRate']:.3f}", f"{1 - metrics['winRate']:.3f}")
    table.add_row(
        "judge score (mean)", f"{metrics['meanJudge']['a']:.3f}", f"{metrics['meanJudge']['b']:.3f}"
    )
    for o, v in metrics.get("objectives", {}).items():
        table.add_row(f"reward {o} (mean)", f"{v['a']:.3f}", f"{v['b']:.3f}")
    for c, v in metrics.get("byCategory", {}).items():
        table.add_row(f"win rate, {c} ({v['prompts']})", f"{v['winRate']:.3f}", f"{1 - v['winRate']:.3f}")
    length = metrics.get("length")
    if length:
        table.add_row("length (mean words)", f"{length['a']['mean']:.1f}", f"{length['b']['mean']:.1f}")
    return table


def read_metrics(uri: str) -> dict[str, Any] | None:
    """``metrics.json`` of a committed evaluation artifact."""
    from pro.store import get_artifact

    try:
        path = get_artifact(uri)
        data: dict[str, Any] = json.loads((path / "metrics.json").read_text())
        return data
    except Exception:  # the table is a convenience: the report is the record
        return None
