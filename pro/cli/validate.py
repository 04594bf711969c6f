"""``pro validate -f FILE``: check a pipeline (or stage) file and report every problem at once."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  pro validate -f examples/toy/pipeline.yaml
  pro validate -f pipeline.yaml -f reward.yaml     # several files; every problem of every file
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="a resource file (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from pro.errors import UserError
    from pro.planner.compose import compose
    from pro.spec.kinds import load_resource
    from pro.spec.pipeline import AlignmentPipeline

    failed = 0
    for path in args.filename:
        try:
            resource = load_resource(path)
        except UserError as err:
            print(err)
            failed += 1
            continue
        kind = getattr(resource, "kind")  # noqa: B009
        if isinstance(resource, AlignmentPipeline):
            c = compose(resource)
            print(f"{path}: {kind} {resource.metadata.name!r} is valid: {len(c.stages)} stages")
            width = max(len(s.name) for s in c.stages)
            for stage in c.stages:
                needs = ", ".join(c.graph.by_name[stage.name].needs) or "-"
                print(f"  {stage.name:<{width}}  {stage.kind:<20} needs {needs}")
            print(f"  artifacts under {c.root}")
        else:
            print(f"{path}: {kind} {resource.metadata.name!r} is valid")
    if failed:
        print(f"{failed} of {len(args.filename)} file(s) invalid")
    return 1 if failed else 0
