"""``pro status``: a local run's stages, while it runs and after it ended (``kubectl get`` shows cluster runs)."""

from __future__ import annotations

import argparse

from pro.cli.runs_arg import RUNS, add_run_arguments, run_from

EXAMPLES = """\
examples:
  # the latest run under .pro/runs
  pro status
  # that pipeline's run (its runId, or --run-id)
  pro status -f examples/toy/pipeline.yaml
  # every local run, the latest first
  pro status --all
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Show a local run (pro run) and its stages, from its run directory."
    parser.epilog = EXAMPLES
    add_run_arguments(parser)
    parser.add_argument("--all", action="store_true", help="list every local run instead")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pro.errors import UserError
    from pro.runner.display import duration
    from pro.runner.state import find_runs

    console = Console()
    if args.all:
        runs = find_runs(RUNS)
        if not runs:
            raise UserError(f"no local run under {RUNS}")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("PIPELINE", "RUN", "PHASE", "UPDATED", "DIR"):
            table.add_column(col, no_wrap=True, overflow="ellipsis")
        for s in runs:
            phase = s.data.get("phase", "?") + (" (live)" if s.live else "")
            table.add_row(
                s.data.get("pipeline", "?"),
                s.data.get("runId", "?"),
                phase,
                s.data.get("updated", ""),
                str(s.path.parent),
            )
        console.print(table)
        return 0
    state = run_from(args)
    d = state.data
    live = f"running now (pid {d.get('pid')})" if state.live else "not running"
    console.print(
        f"pipeline {d.get('pipeline')} (run {d.get('runId')}): {d.get('phase')}, {live}", highlight=False
    )
    console.print(f"  started {d.get('started')}, updated {d.get('updated')}", highlight=False)
    rows = []
    for s in d.get("stages", []):
        state_word = s["phase"]
        if s.get("reusedFrom"):
            state_word = f"Reused (from run {s['reusedFrom']})"
        elif s.get("cached"):
            state_word = "Succeeded (cached)"
        p = s.get("progress")
        progress = f"{p['step']}/{p['total']} {p['phase']}" if p else ""
        message = s.get("message", "")
        if s.get("retryAt"):
            message = f"retrying at {s['retryAt']}: {message}"
        rows.append(
            (
                s["name"],
                state_word,
                str(s.get("attempts") or "-"),
                duration(s.get("seconds", 0)) if s.get("attempts") else "-",
                progress,
                message,
            )
        )
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ("STAGE", "STATE", "ATTEMPTS", "TIME", "PROGRESS", "MESSAGE")
    # every column whole but the message, which takes what is left of the line and ends in an ellipsis
    widths = [max([len(col), *(len(r[i]) for r in rows)]) for i, col in enumerate(columns[:-1])]
    left = max(8, console.width - sum(widths) - 2 * len(widths))
    for col, width in zip(columns[:-1], widths, strict=True):
        table.add_column(col, no_wrap=True, width=width, justify="right" if col == "ATTEMPTS" else "left")
    table.add_column("MESSAGE", no_wrap=True, overflow="ellipsis", width=left)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        f"logs: {state.path.parent / 'logs'}  (pro logs STAGE [-f])", soft_wrap=True, highlight=False
    )
    return 0
