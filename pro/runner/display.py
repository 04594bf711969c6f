"""What ``pro run`` shows while it runs and when it ends: one line per stage, a summary, the result."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
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


#: what a state means, for the words shown and ``pro run --help``
WAITING_WORDS = {
    "WaitingForInputs": "Waiting",  # an input stage has not committed yet
    "ParallelismLimit": "Queued",  # ready, but --parallel stages are running
}
LEGEND = "Waiting: for an input stage · Queued: ready, at the --parallel limit · Backoff: retrying soon"


def _state(rec: StageRecord) -> str:
    if rec.phase == "Succeeded" and rec.reused_from is not None:
        return f"Reused (from run {rec.reused_from})"
    if rec.phase == "Succeeded" and rec.cached:
        return "Succeeded (cached)"
    if rec.phase in ("Waiting", "Pending"):
        return WAITING_WORDS.get(rec.reason, rec.phase)
    if rec.phase == "Running" and rec.progress is not None and rec.progress.phase != "training":
        return rec.progress.phase.capitalize()
    if rec.attempts > 1 and rec.phase in ("Running", "Backoff", "Failed"):
        return f"{rec.phase} (attempt {rec.attempts})"
    return rec.phase


#: the phases whose steps are counted as they happen (saving and committing keep the last count)
COUNTING = ("training", "generating")


def _progress(rec: StageRecord, now: float) -> str:
    """``step/total``, with the rate and the time left once there is a rate."""
    if rec.progress is None or rec.phase != "Running" or rec.progress.total <= 0:
        return ""
    p = rec.progress
    text = f"{p.step}/{p.total}"
    rate = rec.rate(now)
    if rate and p.phase in COUNTING:
        left = max(p.total - p.step, 0) / rate
        per = f"{rate:.1f}/s" if rate >= 1 else f"{1 / rate:.1f}s/it"
        text += f" {per} ETA {duration(left)}"
    return text


def _message(rec: StageRecord) -> str:
    if rec.phase == "Backoff" and rec.retry_at is not None:
        local = rec.retry_at.astimezone()
        wait = max(0, int((rec.retry_at - datetime.now(UTC)).total_seconds()))
        return f"retrying at {local:%H:%M:%S} (in {wait} s): {rec.message}"
    if rec.phase in ("Running", "Succeeded"):
        return ""
    return rec.message


def stage_table(records: Mapping[str, StageRecord], now: float, *, title: str | None = None) -> Table:
    """One line per stage at any width: long messages end in an ellipsis, nothing wraps."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    table.add_column("STAGE", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("TIME", no_wrap=True, justify="right")
    table.add_column("PROGRESS", no_wrap=True)
    table.add_column("MESSAGE", no_wrap=True, overflow="ellipsis", ratio=1)
    for rec in records.values():
        elapsed = rec.elapsed(now)
        table.add_row(
            rec.name,
            Text(_state(rec), style=COLOURS.get(rec.phase, "")),
            duration(elapsed) if elapsed else "",
            _progress(rec, now),
            _message(rec),
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
        head = Text(f"{self.header}  [{plan.phase.value}]", no_wrap=True, overflow="ellipsis")
        legend = Text(LEGEND, style="dim", no_wrap=True, overflow="ellipsis")
        self.live.update(Group(head, stage_table(records, time.monotonic()), legend))


class LineDisplay:
    """A line per change: a stage's state, its first step count (the total to expect) and its progress every
    quarter (logs, CI, pipes).  A line never
    runs past ``width`` columns: a long message ends in an ellipsis (the summary repeats a failure's whole
    message)."""

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self.out = out or sys.stdout
        self.width = width
        self.seen: dict[str, tuple[str, int, str, str]] = {}
        self.quarter: dict[str, int] = {}

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.out.flush()

    def update(self, plan: Plan, records: Mapping[str, StageRecord]) -> None:
        now = time.monotonic()
        for rec in records.values():
            # a running stage that has not reported yet is starting its training: no second "Running" line
            sub = (
                (rec.progress.phase if rec.progress is not None else "training")
                if rec.phase == "Running"
                else ""
            )
            key = (rec.phase, rec.attempts, rec.message if rec.phase != "Running" else "", sub)
            parts: list[str] = []
            if self.seen.get(rec.name) != key:
                self.seen[rec.name] = key
                self.quarter[rec.name] = -1  # a new phase: its first count, then each quarter
                parts = [_state(rec), _line_message(rec)]
            elif (
                rec.phase == "Running"
                and rec.progress is not None
                and rec.progress.phase in COUNTING
                and rec.progress.total > 0
            ):
                q = 4 * rec.progress.step // rec.progress.total
                if q > self.quarter.get(rec.name, -1):
                    self.quarter[rec.name] = q
                    parts = [_state(rec), f"step {_progress(rec, now)}"]
            if parts:
                elapsed = rec.elapsed(now)
                suffix = f"  ({duration(elapsed)})" if elapsed and rec.phase != "Running" else ""
                text = " ".join(p for p in parts if p)
                line = f"{time.strftime('%H:%M:%S')}  {rec.name:<18} "
                if self.width is not None and len(line) + len(text) + len(suffix) > self.width:
                    suffix = ""  # the time is in the summary; the words are worth more here
                    if len(line) + len(text) > self.width:
                        text = text[: max(self.width - len(line) - 1, 0)].rstrip() + "…"
                print(line + text + suffix, file=self.out, flush=True)


def _line_message(rec: StageRecord) -> str:
    if rec.phase == "Running" and rec.attempts:
        return f"attempt {rec.attempts}" if rec.progress is None or rec.progress.phase == "training" else ""
    return _message(rec) or (rec.message if rec.phase != "Succeeded" else "")


def summary(console: Console, outcome: Outcome, header: str) -> None:
    """The final table (state, attempts, time), then every artifact, and the log of every stage that did
    not succeed, each path whole on a line of its own (a path is copied, not read: never cut or broken;
    each ends with its stage's name)."""
    console.print(
        f"{header}: {outcome.phase.value} in {duration(outcome.seconds)}", soft_wrap=True, highlight=False
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("STAGE", "STATE", "ATTEMPTS", "TIME"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("ATTEMPTS", "TIME") else "left")
    for rec in outcome.records.values():
        table.add_row(
            rec.name,
            Text(_state(rec), style=COLOURS.get(rec.phase, "")),
            str(rec.attempts) if rec.attempts else "-",
            duration(rec.seconds) if rec.seconds else "-",
        )
    console.print(table)
    records = outcome.records.values()
    for label, paths in (
        ("artifacts:", [r.output for r in records if r.phase == "Succeeded"]),
        (
            "logs of the stages that did not succeed:",
            [str(r.log) for r in records if r.phase != "Succeeded" and r.attempts],
        ),
    ):
        if paths:
            console.print(label, highlight=False)
            for path in paths:
                console.print(f"  {path}", soft_wrap=True, highlight=False, markup=False)


def read_metrics(uri: str) -> dict[str, Any] | None:
    """``metrics.json`` of a committed evaluation artifact."""
    from pro.store import get_artifact

    try:
        path = get_artifact(uri)
        data: dict[str, Any] = json.loads((path / "metrics.json").read_text())
        return data
    except Exception:  # the table is a convenience: the report is the record
        return None
