"""``pro render -f FILE``: print the Kubernetes objects the operator would create, as a YAML stream.

For a pipeline: each stage resource, and for each stage its ConfigMap and attempt-1 PyTorchJob.  For a
stage resource file: its ConfigMap and PyTorchJob.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pro.errors import UserError

EXAMPLES = """\
examples:
  pro render -f examples/toy/pipeline.yaml
  pro render -f examples/toy/pipeline.yaml --stage align -o json
  pro render -f examples/toy/reward-humor.yaml
"""


class RenderError(UserError):
    """A file ``pro render`` cannot render (wrong kind, unknown stage)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("-f", "--filename", required=True, metavar="FILE", help="a pipeline or stage resource")
    parser.add_argument("--stage", metavar="NAME", help="only this stage of a pipeline (e.g. align, rm-humor)")
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json"), default="yaml", help="yaml stream (default) or a json List"
    )


def placeholder_uid(kind: str, name: str) -> str:
    """The uid shown in ownerReferences, which only the API server knows."""
    return f"<uid of {kind}/{name}>"


def objects(path: str, stage: str | None = None) -> list[dict[str, Any]]:
    """What the operator would create for the resource in ``path``, in creation order."""
    from pro.planner.compose import compose
    from pro.render.jobs import VERBS, owner_reference, render_stage, stage_resource_object
    from pro.spec.base import GROUP_VERSION
    from pro.spec.kinds import load_resource
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
                raise RenderError(f"{path}: pipeline {resource.metadata.name!r} has no stage {stage!r} ({known})")
            stages = (composed.stage(stage),)
        uid = placeholder_uid(kind, resource.metadata.name)
        for s in stages:
            body = stage_resource_object(s, uid)
            owner = owner_reference(GROUP_VERSION, s.kind, s.resource.metadata.name, placeholder_uid(s.kind, s.resource.metadata.name))
            rendered = render_stage(s.resource, attempt=1, owner=owner)  # type: ignore[arg-type]
            out += [body, rendered.config_map, rendered.job]
        return out
    if stage is not None:
        raise RenderError(f"{path}: --stage applies to an AlignmentPipeline, not a {kind}")
    if kind not in VERBS:
        raise RenderError(f"{path}: the operator creates no jobs for a {kind} directly (render a pipeline)")
    owner = owner_reference(GROUP_VERSION, kind, resource.metadata.name, placeholder_uid(kind, resource.metadata.name))
    rendered = render_stage(resource, attempt=1, owner=owner)  # type: ignore[arg-type]
    return [rendered.config_map, rendered.job]


def run(args: argparse.Namespace) -> int:
    import yaml

    items = objects(args.filename, args.stage)
    if args.output == "json":
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2))
        return 0
    print("# what the operator creates; ownerReferences carry placeholder uids (<uid of KIND/NAME>) that")
    print("# the API server assigns when the owner is created")
    print(yaml.safe_dump_all(items, sort_keys=False, explicit_start=True), end="")
    return 0
