"""``pro render -f FILE``: print the Kubernetes objects the operator would create, as a YAML stream.

For a pipeline: each stage resource, and for each stage its ConfigMap and attempt-1 job.  For a stage
resource file: its ConfigMap and job.  The job is a PyTorchJob or a TrainJob, as the spec's
``kubernetes.jobBackend`` says (``--job-backend`` overrides it; ``auto`` renders what the operator picks
on a cluster serving both, a PyTorchJob).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from pro.errors import UserError

if TYPE_CHECKING:
    from pro.spec.base import Resource
    from pro.spec.guardrails import PodPolicy

EXAMPLES = """\
examples:
  pro render -f examples/toy/pipeline.yaml
  pro render -f examples/toy/pipeline.yaml --stage align -o json
  pro render -f examples/toy/reward-humor.yaml
  pro render -f examples/toy/pipeline.yaml --job-backend TrainJob \\
    --training-runtime torch-distributed
"""


class RenderError(UserError):
    """A file ``pro render`` cannot render (wrong kind, unknown stage)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument(
        "-f", "--filename", required=True, metavar="FILE", help="a pipeline or stage resource"
    )
    parser.add_argument(
        "--stage", metavar="NAME", help="only this stage of a pipeline (e.g. align, rm-humor)"
    )
    parser.add_argument(
        "--job-backend",
        choices=("PyTorchJob", "TrainJob"),
        help="render every job as this kind (default: each stage's kubernetes.jobBackend; auto: PyTorchJob)",
    )
    parser.add_argument(
        "--training-runtime",
        metavar="NAME",
        default="torch-distributed",
        help="a TrainJob's runtime when the spec names none, as the operator's --training-runtime "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--guardrails",
        metavar="FILE",
        help="the pods hardened as these guardrails say (its pods section: token mount, /tmp and /dev/shm limits), as "
        "the operator's --guardrails (default: the chart's)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json"),
        default="yaml",
        help="yaml stream (default) or a json List",
    )


def placeholder_uid(kind: str, name: str) -> str:
    """The uid shown in ownerReferences, which only the API server knows."""
    return f"<uid of {kind}/{name}>"


def objects(
    path: str, stage: str | None = None, *, backend: str | None = None, runtime: str = "torch-distributed",
    pods: PodPolicy | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """What the operator would create for the resource in ``path``, in creation order (jobs as
    ``backend``, default each stage's ``jobBackend``; ``runtime``: a TrainJob's default runtime; ``pods``:
    the guardrails' pod hardening, default the chart's)."""
    from pro.planner.compose import compose
    from pro.render.jobs import stage_resource_object
    from pro.spec.kinds import kind_named, load_resource
    from pro.spec.pipeline import AlignmentPipeline

    resource = load_resource(path)
    kind: str = getattr(resource, "kind")  # noqa: B009 - every concrete Resource has a kind
    out: list[dict[str, Any]] = []
    if isinstance(resource, AlignmentPipeline):
        composed = compose(resource)
        stages = composed.stages
        if stage is not None:
            if stage not in composed.by_name:
                known = ", ".join(s.name for s in composed.stages)
                raise RenderError(
                    f"{path}: pipeline {resource.metadata.name!r} has no stage {stage!r} ({known})"
                )
            stages = (composed.stage(stage),)
        uid = placeholder_uid(kind, resource.metadata.name)
        for s in stages:
            out += [stage_resource_object(s, uid), *_stage_objects(s.resource, backend, runtime, pods)]
        return out
    if stage is not None:
        raise RenderError(f"{path}: --stage applies to an AlignmentPipeline, not a {kind}")
    if not kind_named(kind).is_stage:
        raise RenderError(
            f"{path}: {kind} {resource.metadata.name!r} has no jobs of its own; render a pipeline or stage file"
        )
    return _stage_objects(resource, backend, runtime, pods)


def _stage_objects(
    resource: Resource, backend: str | None, runtime: str, pods: PodPolicy | None
) -> list[dict[str, Any]]:
    """A stage resource's ConfigMap and attempt-1 job, owned by the stage resource."""
    from pro.render.jobs import DEFAULT_POD_POLICY, owner_reference, render_stage
    from pro.spec.conventions import GROUP_VERSION

    name, kind = resource.metadata.name, getattr(resource, "kind")  # noqa: B009
    owner = owner_reference(GROUP_VERSION, kind, name, placeholder_uid(kind, name))
    rendered = render_stage(
        resource, attempt=1, owner=owner, backend=backend, default_runtime=runtime,
        pods=pods or DEFAULT_POD_POLICY,
    )  # fmt: skip
    return [rendered.config_map, rendered.job]


def to_yaml_stream(items: list[dict[str, Any]]) -> str:
    """``---``-separated YAML documents; multi-line strings (the mounted stage.yaml) as ``|`` blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # no &id anchors: every object reads on its own

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(items, Dumper=Dumper, sort_keys=False, explicit_start=True)


def relative_path_note(path: str) -> list[str]:
    """What the relative paths of the file at ``path`` mean where (empty when it has none): the operator
    resolves nothing, so on a cluster they are the stage pods' own; here they are the file's directory's."""
    from pro.spec.kinds import file_dir, load_resource
    from pro.spec.paths import relative_paths

    found = relative_paths(load_resource(path))
    if not found:
        return []
    field, value = found[0]
    return [
        f"{len(found)} relative path(s), e.g. {field}: {value}",
        "On a cluster they are paths in the stage pods' working directory (the operator",
        "resolves nothing: use s3:// there); pro run and pro validate read them against",
        f"{file_dir(path)}/",
    ]


def run(args: argparse.Namespace) -> int:
    import sys

    from pro.spec.guardrails import Guardrails
    from pro.spec.loader import load_file

    pods = load_file(args.guardrails, Guardrails).pods if args.guardrails else None
    items = objects(
        args.filename, args.stage, backend=args.job_backend, runtime=args.training_runtime, pods=pods
    )
    note = relative_path_note(args.filename)
    if args.output == "json":
        for line in note:
            print(f"note: {line}", file=sys.stderr)
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2))
        return 0
    print("# what the operator creates for this file; ownerReferences carry placeholder uids")
    print("# (<uid of KIND/NAME>): the API server assigns the real ones when the owners are created")
    for line in note:
        print(f"# {line}")
    print(to_yaml_stream(items), end="")
    return 0
