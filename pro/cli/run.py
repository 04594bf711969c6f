"""``pro run -f pipeline.yaml``: run an AlignmentPipeline on this machine."""

from __future__ import annotations

import argparse
import os
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pro.planner.compose import ComposedStage, Composition
    from pro.spec.pipeline import AlignmentPipeline
    from pro.spec.schedule import AlignmentSchedule

EXAMPLES = """\
Stages run as local processes (torchrun --standalone, the command a pod runs), reward models
concurrently.  Run the same command again to resume: committed stages are skipped and the alignment
stage continues from its last checkpoint.  Ctrl-C stops the stages cleanly (twice: at once).

The run pins its data when it starts (the exact objects, in <store>/<ns>/<pipeline>/<runId>/snapshot.json)
and reuses every stage an earlier run of the same pipeline or schedule committed for the same work.
Relative paths in the file are relative to its directory (examples/toy/toy-out for the toy example);
paths given on the command line (--store, --set) to the current one.

examples:
  pro run -f examples/toy/pipeline.yaml
  # one stage at a time
  pro run -f pipeline.yaml --parallel 1
  # another store than spec.storage.uri
  pro run -f pipeline.yaml --store s3://bucket/pro
  # start over under a new run id
  pro run -f pipeline.yaml --run-id try-2
  # one firing of an AlignmentSchedule
  pro run -f schedule.yaml --scheduled-time 2026-12-07T03:00:00Z
  # change fields for this run (validated like the file)
  pro run -f pipeline.yaml --set alignment.beta=0.1 \\
    --set evaluation.maxPrompts=50
  # what would run, be reused or stay cached, and why
  pro run -f pipeline.yaml --dry-run
  # a run going on (or ended), from another terminal
  pro status
  pro logs align --follow
"""


def default_parallel() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument(
        "-f",
        "--filename",
        required=True,
        metavar="FILE",
        help="an AlignmentPipeline or AlignmentSchedule file",
    )
    parser.add_argument(
        "--scheduled-time",
        metavar="TIME",
        help="the firing's time (RFC 3339, e.g. 2026-12-07T03:00:00Z): fills {{scheduledTime:…}} in data "
        "references; for a schedule, which firing to run (default: its latest firing before now)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=default_parallel(),
        metavar="N",
        help="at most N stages at once (default: the CPU count, at most 4: %(default)s here)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a spec field (a path under spec, e.g. alignment.beta=0.1 or objectives[0].data.path=x; "
        "VALUE is YAML); repeatable, validated like the file",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show the plan (cached, reused, to run, why); run nothing"
    )
    parser.add_argument("--store", metavar="URI", help="artifact store root (overrides spec.storage.uri)")
    parser.add_argument("--run-id", metavar="ID", help="run id (overrides spec.runId)")
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="stage specs and logs (default: .pro/runs/<namespace>/<pipeline>/<runId>)",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "live", "lines"),
        default="auto",
        help="a live table (terminal) or a line per change (logs); default: live on a terminal",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="after Ctrl-C, wait this long before killing",
    )
    parser.add_argument(
        "--cold-start",
        action="store_true",
        help="start every stage in a fresh interpreter (default: one-process stages are forked from one "
        "that has imported torch and transformers already: ≈2 s sooner each)",
    )


def scheduled_time(args: argparse.Namespace) -> datetime | None:
    """``--scheduled-time`` as an aware UTC time (a time without zone is UTC)."""
    from pro.errors import UserError

    if not args.scheduled_time:
        return None
    try:
        t = datetime.fromisoformat(args.scheduled_time.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--scheduled-time {args.scheduled_time!r}: not an RFC 3339 time (e.g. 2026-12-07T03:00:00Z)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def load_pipeline(args: argparse.Namespace) -> AlignmentPipeline:
    """The pipeline file (or a schedule's pipeline for one firing) with the command line's overrides,
    validated as a whole.  The file's relative paths are relative to its directory; those the command line
    gives (``--store``, ``--set``) to the current one."""
    from pro.spec import parse
    from pro.spec.kinds import load_local
    from pro.spec.loader import Document
    from pro.spec.paths import resolved
    from pro.spec.pipeline import AlignmentPipeline
    from pro.spec.schedule import AlignmentSchedule

    resource = load_local(args.filename)
    if isinstance(resource, AlignmentSchedule):
        pipeline = firing(resource, scheduled_time(args))
    elif isinstance(resource, AlignmentPipeline):
        pipeline = resource
    else:
        from pro.errors import UserError

        kind = getattr(resource, "kind")  # noqa: B009
        raise UserError(
            f"{args.filename}: pro run runs an AlignmentPipeline or AlignmentSchedule, not a {kind}"
        )
    if args.store or args.run_id or args.set:
        data = pipeline.to_dict()
        if args.store:
            data["spec"].setdefault("storage", {})["uri"] = args.store
        if args.run_id:
            data["spec"]["runId"] = args.run_id
        for assignment in args.set:
            set_field(data["spec"], assignment)
        # the same loader errors (field paths, one line each) for what the flags changed
        pipeline = parse(
            AlignmentPipeline, Document(data, {}, f"{args.filename} (with the command line's overrides)")
        )
        pipeline = resolved(pipeline, os.getcwd())
    return pipeline


def set_field(spec: dict[str, Any], assignment: str) -> None:
    """Apply ``--set FIELD=VALUE`` to the spec (VALUE read as YAML: ``0.1`` a number, ``true`` a bool)."""
    import re

    import yaml

    from pro.errors import UserError

    path, sep, raw = assignment.partition("=")
    if not sep or not path:
        raise UserError(f"--set {assignment!r}: write FIELD=VALUE, e.g. --set alignment.beta=0.1")
    keys: list[str | int] = []
    for part in path.removeprefix("spec.").split("."):
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)((?:\[\d+\])*)", part)
        if m is None:
            raise UserError(f"--set {assignment!r}: {part!r} is not a field name (fields are camelCase)")
        keys.append(m.group(1))
        keys += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise UserError(f"--set {assignment!r}: the value is not YAML ({err.__class__.__name__})") from None
    node: Any = spec
    for i, key in enumerate(keys[:-1]):
        where = "spec." + ".".join(str(k) for k in keys[: i + 1])
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise UserError(f"--set {assignment!r}: {where} does not exist")
            node = node[key]
        else:
            if not isinstance(node, dict):
                raise UserError(f"--set {assignment!r}: {where} is not a section")
            node = node.setdefault(key, {})
    last = keys[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise UserError(f"--set {assignment!r}: spec.{path} does not exist")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise UserError(f"--set {assignment!r}: its parent is not a section")


def dry_run(c: Composition) -> int:
    """Print what each stage would do and why; change nothing."""
    from rich.console import Console
    from rich.table import Table

    from pro.store import read_manifest

    console = Console()
    console.print(
        f"pipeline {c.pipeline.metadata.name} (run {c.pipeline.spec.run_id}): the plan, nothing runs"
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("STAGE", "WILL", "WHY"):
        table.add_column(col, no_wrap=col != "WHY", overflow="fold")
    fresh: set[str] = set()
    for name in c.graph.order:
        stage = c.stage(name)
        needs = c.graph.by_name[name].needs
        if name in c.reused:
            table.add_row(name, "reuse", f"run {c.reused[name].run} committed the same work")
            continue
        manifest = read_manifest(stage.output)
        if manifest is not None and manifest.work_digest == stage.digest:
            table.add_row(name, "skip", "committed by this run already")
            continue
        fresh.add(name)
        upstream = [n for n in needs if n in fresh]
        why = f"its inputs run first: {', '.join(upstream)}" if upstream else "no artifact for its work yet"
        if manifest is not None:
            why = "its committed artifact is for other work (the spec or an input changed)"
        table.add_row(name, "run", why)
    console.print(table)
    console.print(f"{len(fresh)} of {len(c.stages)} stage(s) would run", highlight=False)
    console.print(f"  artifacts: {c.root}", soft_wrap=True, highlight=False, markup=False)
    return 0


def promotion_line(p: dict[str, Any]) -> str:
    """One line for the gate's decision: what, against what, with the numbers or the reasons."""
    interval = f" [{p['winRateLow']:.3f}, {p['winRateHigh']:.3f}]" if "winRateLow" in p else ""
    line = f"promotion: {p['decision']} (win rate {p['winRate']:.3f}{interval} vs {p['baseline']})"
    if p.get("reasons"):
        line += ": " + "; ".join(p["reasons"])
    drift = p.get("drift")
    if drift:
        moved = "moved" if drift["moved"] else "stable"
        line += f"\nweights: {moved} since run {drift['previousRun']} (total variation {drift['totalVariation']:.3f})"
    return line


def firing(schedule: AlignmentSchedule, at: datetime | None) -> AlignmentPipeline:
    """The pipeline ``schedule`` creates for its firing at ``at`` (default: its latest firing before now)."""
    from pro.errors import UserError
    from pro.planner.schedule import most_recent_firing, pipeline_for_firing
    from pro.spec.cron import parse_cron

    if at is None:
        now = datetime.now(UTC)
        spec = schedule.spec
        at = most_recent_firing(parse_cron(spec.schedule), spec.time_zone, now - timedelta(days=367), now)
        if at is None:
            raise UserError(
                f"schedule {schedule.metadata.name!r} has not fired in the past year; pass --scheduled-time"
            )
    return pipeline_for_firing(schedule, at)


def run(args: argparse.Namespace) -> int:
    import sys

    from rich.console import Console

    from pro.cli.results import print_result
    from pro.errors import UserError
    from pro.planner import PipelinePhase
    from pro.planner.compose import EVAL, lineage_root
    from pro.runner import RunOptions, run_pipeline
    from pro.runner.display import LineDisplay, LiveDisplay, read_metrics, summary
    from pro.runs import prepare
    from pro.store.lineage import record_work

    if args.parallel < 1:
        raise UserError("--parallel must be at least 1")
    from pro.spec.conventions import SCHEDULED_AT, parse_rfc3339

    pipeline = load_pipeline(args)
    # a schedule's firing carries its time; a pipeline gets --scheduled-time (or its first start's time)
    when = scheduled_time(args) or parse_rfc3339(pipeline.metadata.annotations.get(SCHEDULED_AT))
    if args.dry_run:
        return dry_run(prepare(pipeline, when, write=False).composition)
    prepared = prepare(pipeline, when)
    composition = prepared.composition
    meta, spec = pipeline.metadata, pipeline.spec
    run_dir = Path(args.run_dir or Path(".pro", "runs", meta.namespace or "default", meta.name, spec.run_id))
    options = RunOptions(
        run_dir=run_dir, max_parallel=args.parallel, grace_seconds=args.grace, warm_start=not args.cold_start
    )
    # logs and pipes get wide lines rather than tables wrapped at 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=int(os.environ.get("COLUMNS", "160")))
    header = f"pipeline {meta.name} (run {spec.run_id})"
    console.print(f"{header}: {len(composition.stages)} stages", highlight=False)
    for label, path in (("artifacts", composition.root), ("logs", f"{run_dir}/logs")):
        console.print(f"  {label}: {path}", soft_wrap=True, highlight=False, markup=False)
    live = args.progress == "live" or (args.progress == "auto" and sys.stdout.isatty())
    display = LiveDisplay(console, header) if live else LineDisplay(width=console.width)
    lineage = lineage_root(composition.pipeline)

    def index(stage: ComposedStage) -> None:
        record_work(lineage, stage.digest, artifact=stage.output, run=spec.run_id, stage=stage.name)

    with display:
        outcome = run_pipeline(composition, options, display, on_commit=index)
    summary(console, outcome, header)
    if outcome.phase is PipelinePhase.SUCCEEDED and EVAL in composition.by_name:
        metrics = read_metrics(composition.stage(EVAL).output)
        if metrics is not None and "policyA" in metrics:
            print_result(console, metrics)
        if metrics is not None and "promotion" in metrics:
            console.print(promotion_line(metrics["promotion"]), highlight=False)
        console.print(f"report: {composition.stage(EVAL).output}/report.html", soft_wrap=True, markup=False)
    if outcome.phase is PipelinePhase.FAILED:
        for rec in outcome.records.values():
            if rec.phase == "Failed":
                # wrapped at words; a word longer than the line (a path) stays whole
                said = textwrap.fill(
                    f"{rec.name} failed: {rec.message}", console.width, break_long_words=False,
                    break_on_hyphens=False,
                )  # fmt: skip
                console.print(said, highlight=False, soft_wrap=True, markup=False)
                # a path is copied, not read: never broken across lines
                console.print(f"  log: {rec.log}", highlight=False, soft_wrap=True, markup=False)
        return 1
    if outcome.interrupted:
        console.print("stopped; run the same command again to resume")
        return 130
    return 0
