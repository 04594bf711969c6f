"""``pro toy generate``: write a toy world's data files (preference pairs with a known answer)."""

from __future__ import annotations

import argparse

from pro.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    gen = sub.add_parser("generate", help="generate a toy world's data files from its YAML spec")
    gen.add_argument("--spec", required=True, help="world spec YAML (see docs/toy-world.md)")
    gen.add_argument("--out", required=True, help="output directory (written atomically)")
    gen.add_argument("--seed", type=int, default=None, help="override the spec's seed")
    gen.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    gen.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.action != "generate":
        raise UserError("pro toy: missing action; usage: pro toy generate --spec FILE --out DIR")
    from rich.console import Console
    from rich.table import Table

    from pro.toy.generate import generate

    summary = generate(args.spec, args.out, seed=args.seed, force=args.force)
    table = Table(title=f"toy world → {summary.out}  (seed {summary.seed}, {summary.seconds:.1f} s)")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, str(count))
    Console().print(table)
    return 0
