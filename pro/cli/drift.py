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
    table = Table(title=f"adapter weights across {len(records)} runs of {root}", title_justify="left")
    for col in ("RUN", "SCHEDULED", "CATEGORY", *objectives, "MOVE (TV)", "DECISION"):
        table.add_column(col, justify="right" if col in objectives or col.startswith("MOVE") else "left")
    for r in records:
        move = f"{r.drift.total_variation:.3f}{' !' if r.drift.moved else ''}" if r.drift else "-"
        for i, c in enumerate(categories):
            w = r.weights.get(c)
            if w is None:
                continue
            first = i == 0 or all(r.weights.get(x) is None for x in categories[:i])
            table.add_row(
                r.run if first else "",
                (r.scheduled_time or "-") if first else "",
                c,
                *(f"{w.get(o, 0.0):.3f}" for o in objectives),
                move if first else "",
                (r.decision or "-") if first else "",
            )
    Console().print(table)
    if args.report:
        path = write_drift_report(records, args.report, title=f"weight drift: {root}")
        print(f"report: {path}")
    return 0
