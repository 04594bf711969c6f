"""``pro drift URI | -f FILE``: how the adapter's weights moved across a lineage's runs."""

from __future__ import annotations

import argparse

from pro.cli.lineage import add_lineage_arguments, lineage_from

EXAMPLES = """\
examples:
  pro drift -f examples/toy/schedule.yaml
  pro drift s3://team-bucket/pro/alignment/nightly --report drift.html
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Tabulate each run's mean adapter weights on the probe prompts (per category), the total-variation\n"
        "move from the previous run and the promotion decision; --report also writes an HTML page with a\n"
        "plot of every objective's weight across runs."
    )
    parser.epilog = EXAMPLES
    add_lineage_arguments(parser)
    parser.add_argument("--report", metavar="FILE", help="also write this self-contained HTML report")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pro.errors import UserError
    from pro.eval.report import write_drift_report
    from pro.store.lineage import run_records

    root = lineage_from(args)
    records = run_records(root)
    if not records:
        raise UserError(f"{root}: no run records (runs/*.json); runs record them when spec.promotion is set")
    objectives = records[-1].objectives
    categories = sorted({c for r in records for c in r.weights})
    console = Console()
    console.print(
        f"adapter weights on the probe prompts across {len(records)} runs of {root}", soft_wrap=True
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("RUN", "CATEGORY", *objectives, "MOVE", "DECISION"):
        numeric = col in objectives or col == "MOVE"
        table.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    for r in records:
        move = f"{r.drift.total_variation:.3f}{'!' if r.drift.moved else ''}" if r.drift else "-"
        shown = [c for c in categories if c in r.weights]
        for i, c in enumerate(shown):
            w = r.weights[c]
            table.add_row(
                r.run if i == 0 else "",
                c,
                *(f"{w.get(o, 0.0):.3f}" for o in objectives),
                move if i == 0 else "",
                (r.decision or "-") if i == 0 else "",
            )
    console.print(table)
    console.print(
        "MOVE: total variation from the previous run's weights (! above the drift threshold)", soft_wrap=True
    )
    if args.report:
        path = write_drift_report(records, args.report, title=f"weight drift: {root}")
        print(f"report: {path}")
    return 0
