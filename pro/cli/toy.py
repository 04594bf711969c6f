"""``pro toy generate``: write a toy world's data files (preference pairs with a known answer);
``pro toy drops``: weekly data drops made from it (the scheduled-alignment demo)."""

from __future__ import annotations

import argparse

from pro.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "The toy world: synthetic preference data with a known answer (docs/toy-world.md)."
    parser.epilog = (
        "examples:\n"
        "  pro toy generate -f examples/toy/world.yaml --out examples/toy/toy-out\n"
        "  pro toy drops --world examples/toy/toy-out --change humor \\\n    --out examples/toy/toy-out/drops \\\n"
        "    --date 2026-11-30 --date 2026-12-07"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    gen = sub.add_parser(
        "generate",
        help="generate a toy world's data files from its YAML spec",
        description="Write a toy world's data files (per-objective pairs, mixed pairs, SFT corpus, held-out "
        "prompts, truth.json) from its YAML spec, atomically.",
        epilog="examples:\n"
        "  pro toy generate -f examples/toy/world.yaml --out examples/toy/toy-out\n"
        "  pro toy generate -f examples/toy/world.yaml --out /tmp/toy-1 --seed 1 --force",
    )
    gen.add_argument(
        "-f",
        "--filename",
        "--spec",
        dest="spec",
        required=True,
        metavar="FILE",
        help="world spec YAML (see docs/toy-world.md)",
    )
    gen.add_argument("--out", required=True, help="output directory (written atomically)")
    gen.add_argument("--seed", type=int, default=None, help="override the spec's seed")
    gen.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    gen.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    drops = sub.add_parser(
        "drops",
        help="write weekly data drops from a generated world (one objective's data grows each week)",
        description="Write OUT/<date>/<objective>.jsonl + _SUCCESS for each --date: the first drop holds the "
        "world's pairs, each later one the previous with --change's pairs extended by a fresh sample.",
        epilog="examples:\n  pro toy drops --world examples/toy/toy-out --change humor \\\n    --out examples/toy/toy-out/drops \\\n"
        "    --date 2026-11-30 --date 2026-12-07",
    )
    drops.add_argument("--world", required=True, metavar="DIR", help="a world written by pro toy generate")
    drops.add_argument("--out", required=True, metavar="DIR", help="where the drops go")
    drops.add_argument(
        "--date", action="append", required=True, metavar="YYYY-MM-DD", help="one per drop, in order"
    )
    drops.add_argument("--change", required=True, metavar="OBJECTIVE", help="the objective whose data grows")


def run(args: argparse.Namespace) -> int:
    if args.action == "drops":
        from pathlib import Path

        from pro.toy.drops import write_drops

        for drop in write_drops(Path(args.world), Path(args.out), args.date, change=args.change):
            print(f"wrote {drop}")
        return 0
    if args.action != "generate":
        raise UserError("pro toy: missing action; usage: pro toy generate -f FILE --out DIR")
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
