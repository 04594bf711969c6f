"""Which lineage a command means: a store URI of its root, or the pipeline/schedule file that names it."""

from __future__ import annotations

import argparse

from pro.errors import UserError


def add_lineage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "lineage",
        nargs="?",
        metavar="URI",
        help="the lineage's store root: <storage.uri>/<namespace>/<schedule or pipeline>",
    )
    parser.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        help="an AlignmentSchedule or AlignmentPipeline file (instead of URI)",
    )


def lineage_from(args: argparse.Namespace) -> str:
    """The lineage root the arguments name (exactly one of URI or ``-f``)."""
    if bool(args.lineage) == bool(args.filename):
        raise UserError("name the lineage by its store URI or by -f FILE (one of them)")
    if args.lineage:
        return str(args.lineage).rstrip("/")
    from pro.planner.compose import lineage_root
    from pro.planner.schedule import pipeline_for_firing
    from pro.spec.kinds import load_local
    from pro.spec.pipeline import AlignmentPipeline
    from pro.spec.schedule import AlignmentSchedule

    resource = load_local(args.filename)
    if isinstance(resource, AlignmentSchedule):
        from datetime import UTC, datetime

        return lineage_root(pipeline_for_firing(resource, datetime.now(UTC)))
    if isinstance(resource, AlignmentPipeline):
        return lineage_root(resource)
    raise UserError(f"{args.filename}: not an AlignmentSchedule or AlignmentPipeline")
