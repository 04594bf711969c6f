"""``pro validate -f FILE``: check resource files as the cluster and ``pro run`` read them, and report every
problem at once, each naming its field."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pro.spec.guardrails import Guardrails

EXAMPLES = """\
A file may hold several resources (YAML documents separated by ---); each is checked.  Besides the
schema, every reference a run reads is checked: data files must exist and S3 prefixes be listable with
this machine's AWS credentials, toy worlds must exist, and the artifacts a resource reads as input (a
baseline policy, a hand-written stage's reward models) must be committed.  --offline skips S3;
references with a {{scheduledTime}} placeholder are checked when a run fills them.  Relative paths are
relative to the file's directory, as pro run reads them.

examples:
  pro validate -f examples/toy/pipeline.yaml
  # several files; every problem of every file
  pro validate -f pipeline.yaml -f reward.yaml
  # no network
  pro validate -f schedule.yaml --offline
  # what the platform allows (the chart's guardrails values); a Secret's label
  # is the cluster's
  pro validate -f pipeline.yaml --guardrails guardrails.yaml
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
    parser.add_argument("--offline", action="store_true", help="do not check s3:// references")
    parser.add_argument(
        "--guardrails",
        metavar="FILE",
        help="check what the stages' jobs would ask (image, ServiceAccount, tolerations, PriorityClass, "
        "node selector) against these guardrails: the chart's guardrails values, as the operator reads them",
    )


def _spec_and_path(resource: Any) -> tuple[Any, str]:
    from pro.spec.schedule import AlignmentSchedule

    if isinstance(resource, AlignmentSchedule):
        return resource.spec.pipeline_template.spec, "spec.pipelineTemplate.spec"
    return resource.spec, "spec"


def data_problems(resource: object, offline: bool) -> list[tuple[str, str]]:
    """``(field, problem)`` for the data references of ``resource`` that resolve to nothing now."""
    from pro.data.objects import check_refs
    from pro.spec.data import iter_data_refs

    spec, path = _spec_and_path(resource)
    return check_refs(iter_data_refs(spec, path), offline=offline)


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """``(path, field name, value)`` of every field set in a model, recursively."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            child = getattr(value, name)
            where = f"{path}.{info.alias or name}"
            yield where, name, child
            yield from _walk(child, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")


def world_problems(resource: object) -> list[tuple[str, str]]:
    """``(field, problem)`` for every toy world named (a directory with world.yaml, or the file) that is
    not there."""
    spec, path = _spec_and_path(resource)
    out = []
    for where, name, value in _walk(spec, path):
        if name == "world" and isinstance(value, str):
            p = Path(value)
            if not (p / "world.yaml").is_file() and not (p.is_file() and p.suffix in (".yaml", ".yml")):
                missing = "no such directory" if not p.exists() else "holds no world.yaml"
                out.append((where, f"{value}: {missing} (a toy world from pro toy generate)"))
    return out


def model_problems(resource: object) -> list[tuple[str, str]]:
    """``(field, problem)`` for every model or tokenizer written as a local path (``/…``, ``./…``,
    ``../…``) that is not a directory (a hub id is written ``org/name``)."""
    from pro.spec.model import ModelSource, TokenizerSource

    spec, path = _spec_and_path(resource)
    out = []
    for where, _, value in _walk(spec, path):
        if isinstance(value, ModelSource | TokenizerSource) and value.name:
            name = value.name
            if name.startswith(("/", "./", "../")) and not Path(name).is_dir():
                out.append(
                    (f"{where}.name", f"{name}: no such model directory (a hub id is written org/name)")
                )
    return out


#: the fields that name an artifact a resource reads (committed before it runs), by the model's name
INPUT_ARTIFACTS = {
    "Baseline": ("uri",),
    "Judge": ("uri",),
    "PolicyRef": ("uri",),
    "WeightSettings": ("adapter",),
    "AdapterTrainingSpec": ("reward_models",),
    "PolicyAlignmentSpec": ("reward_models",),
    "PolicyEvaluationSpec": ("reward_models", "adapter", "runs"),
    "PromotionSettings": ("baseline",),
}


def artifact_problems(resource: object, offline: bool) -> list[tuple[str, str]]:
    """``(field, problem)`` for every input artifact of ``resource`` that is not committed (a pipeline's
    own stages' outputs are not inputs: the pipeline makes them)."""
    from pydantic import BaseModel

    from pro.store import StoreError, read_manifest

    spec, path = _spec_and_path(resource)
    refs: list[tuple[str, str]] = []
    for where, _, value in [(path, "", spec), *_walk(spec, path)]:
        if not isinstance(value, BaseModel):
            continue
        for name in INPUT_ARTIFACTS.get(type(value).__name__, ()):
            info = type(value).model_fields[name]
            field, uri = f"{where}.{info.alias or name}", getattr(value, name)
            if isinstance(uri, dict):
                refs += [(f"{field}.{k}", v) for k, v in uri.items()]
            elif isinstance(uri, str) and uri != "lastPromoted":
                refs.append((field, uri))
    out = []
    for field, uri in refs:
        if offline and uri.startswith("s3://"):
            continue
        try:
            if read_manifest(uri) is None:
                out.append((field, f"{uri}: no artifact committed there (no manifest.json)"))
        except StoreError as err:
            out.append((field, f"{uri}: {err}"))
    return out


def guardrail_problems(resource: Any, guardrails: Guardrails | None) -> list[tuple[str, str]]:
    """``(field, problem)`` for what ``resource``'s jobs would ask that ``guardrails`` do not allow (none
    without guardrails), named as the operator names them."""
    from pro.planner.compose import stage_execution
    from pro.spec.execution import StageExecution
    from pro.spec.pipeline import AlignmentPipelineSpec

    if guardrails is None:
        return []
    spec, path = _spec_and_path(resource)
    if isinstance(spec, AlignmentPipelineSpec):
        execution = stage_execution(spec)
    else:
        execution, path = spec.execution or StageExecution(), f"{path}.execution"
    return [(f"{path}.{field}", why) for field, why in guardrails.problems(execution)]


def check(resource: Any, where: str, offline: bool, guardrails: Guardrails | None = None) -> bool:
    """Print what ``pro validate`` says about one valid-looking resource; whether it is valid."""
    from pro.planner.compose import compose
    from pro.spec.pipeline import AlignmentPipeline

    not_allowed = guardrail_problems(resource, guardrails)
    if not_allowed:
        print(f"{where}: {len(not_allowed)} setting(s) the guardrails do not allow:")
        for field, problem in not_allowed:
            print(f"  {field}: {problem}")
    problems = (
        data_problems(resource, offline)
        + world_problems(resource)
        + model_problems(resource)
        + artifact_problems(resource, offline)
    )
    if problems:
        print(f"{where}: {len(problems)} reference(s) cannot be read:")
        for field, problem in problems:
            print(f"  {field}: {problem}")
        return False
    if not_allowed:
        return False
    kind = resource.kind
    if isinstance(resource, AlignmentPipeline):
        c = compose(resource)
        print(f"{where}: {kind} {resource.metadata.name!r} is valid: {len(c.stages)} stages")
        width = max(len(s.name) for s in c.stages)
        columns = shutil.get_terminal_size().columns  # $COLUMNS, else the terminal's, else 80
        for stage in c.stages:
            needs = ", ".join(c.graph.by_name[stage.name].needs) or "-"
            head = f"  {stage.name:<{width}}  {stage.kind:<20} needs "
            print(textwrap.fill(needs, columns, initial_indent=head, subsequent_indent=" " * len(head),
                                break_long_words=False, break_on_hyphens=False))  # fmt: skip
        print(f"  artifacts under {c.root}")
    else:
        print(f"{where}: {kind} {resource.metadata.name!r} is valid")
    return True


def run(args: argparse.Namespace) -> int:
    from pro.errors import UserError
    from pro.spec.guardrails import Guardrails
    from pro.spec.kinds import file_dir, resource_of
    from pro.spec.loader import load_file, read_documents
    from pro.spec.paths import resolved

    try:
        guardrails = load_file(args.guardrails, Guardrails) if args.guardrails else None
    except UserError as err:
        print(f"--guardrails {err}")
        return 1
    failed = total = 0
    for path in args.filename:
        try:
            docs = read_documents(path)
            if not docs:
                raise UserError(f"{path}: the file is empty")
        except UserError as err:
            print(err)
            failed, total = failed + 1, total + 1
            continue
        for doc in docs:
            total += 1
            where = path if len(docs) == 1 else f"{path}:{doc.lines[()]}"
            try:
                ok = check(resolved(resource_of(doc), file_dir(path)), where, args.offline, guardrails)
            except UserError as err:
                print(err)
                ok = False
            failed += not ok
    if failed:
        print(f"{failed} of {total} resource(s) invalid")
    return 1 if failed else 0
