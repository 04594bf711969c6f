"""``pro promoted URI | -f FILE``: the policy a lineage has in production, and how it was made."""

from __future__ import annotations

import argparse
import json

from pro.cli.lineage import add_lineage_arguments, lineage_from

EXAMPLES = """\
examples:
  pro promoted -f examples/toy/schedule.yaml
  pro promoted s3://team-bucket/pro/alignment/nightly -o json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print a lineage's promoted.json: the policy the promotion gate last let through, with its adapter,\n"
        "reward models, data snapshot, the gate's numbers, run and time."
    )
    parser.epilog = EXAMPLES
    add_lineage_arguments(parser)
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="default: table")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pro.errors import UserError
    from pro.store.lineage import read_promoted

    root = lineage_from(args)
    found = read_promoted(root)
    if found is None:
        raise UserError(f"{root}: nothing promoted yet (no promoted.json)")
    pointer, etag = found
    if args.output == "json":
        print(json.dumps({**pointer.to_dict(), "version": etag}, indent=2))
        return 0
    rows = [
        ("policy", pointer.policy),
        ("run", f"{pointer.run} (pipeline {pointer.pipeline}, scheduled {pointer.scheduled_time or '-'})"),
        ("promoted at", pointer.promoted_at),
        ("replaced", pointer.previous or "-"),
        ("adapter", pointer.adapter or "-"),
        *((f"reward model {o}", uri) for o, uri in pointer.reward_models.items()),
        *((k, f"{v:.3f}") for k, v in pointer.metrics.items()),
        ("data", f"{sum(len(v) for v in pointer.data.values())} objects from {len(pointer.data)} references"),
        ("snapshot", pointer.snapshot or "-"),
    ]
    console = Console()
    console.print(f"promoted in {root}", soft_wrap=True, highlight=False)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:  # whole lines: a URI is copied, not read, so it is never broken
        console.print(f"  {key:<{width}}  {value}", soft_wrap=True, highlight=False)
    return 0
