"""``pro validate -f FILE``: check a pipeline (or stage) file and report every problem at once."""

from __future__ import annotations

import argparse

EXAMPLES = """\
Besides the schema, every data reference is checked: local files must exist and S3 prefixes must be
listable with this machine's AWS credentials (--offline skips S3); references with a {{scheduledTime}}
placeholder are checked when a run fills them.

examples:
  pro validate -f examples/toy/pipeline.yaml
  pro validate -f pipeline.yaml -f reward.yaml     # several files; every problem of every file
  pro validate -f schedule.yaml --offline          # no network
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
    parser.add_argument("--offline", action="store_true", help="do not check s3:// data references")


def data_problems(resource: object, offline: bool) -> list[tuple[str, str]]:
    """``(field, problem)`` for the data references of ``resource`` that resolve to nothing now."""
    from pro.data.objects import check_refs
    from pro.spec.data import iter_data_refs
    from pro.spec.schedule import AlignmentSchedule

    if isinstance(resource, AlignmentSchedule):
        refs = iter_data_refs(resource.spec.pipeline_template.spec, "spec.pipelineTemplate.spec")
    else:
        refs = iter_data_refs(getattr(resource, "spec"))  # noqa: B009
    return check_refs(refs, offline=offline)


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
        problems = data_problems(resource, args.offline)
        if problems:
            print(f"{path}: {len(problems)} data reference(s) cannot be read:")
            for field, problem in problems:
                print(f"  {field}: {problem}")
            failed += 1
            continue
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
