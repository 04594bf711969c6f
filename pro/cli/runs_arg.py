"""Which local run a command means: ``--run-dir DIR``, the run of ``-f FILE``, or the latest one."""

from __future__ import annotations

import argparse
from pathlib import Path

from pro.errors import UserError
from pro.runner.state import RunState, find_runs, read_state

RUNS = Path(".pro") / "runs"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--filename", metavar="FILE", help="the pipeline or schedule file the run was started with"
    )
    parser.add_argument("--run-id", metavar="ID", help="with -f: the run id (default: the file's runId)")
    parser.add_argument("--run-dir", metavar="DIR", help="the run's directory (pro run --run-dir)")


def run_from(args: argparse.Namespace) -> RunState:
    """The run the arguments name (default: the latest run under .pro/runs)."""
    if args.run_dir:
        state = read_state(Path(args.run_dir))
        if state is None:
            raise UserError(f"{args.run_dir}: no run there (no state.json)")
        return state
    if args.filename:
        from pro.spec.kinds import load_resource
        from pro.spec.pipeline import AlignmentPipeline

        resource = load_resource(args.filename)
        if not isinstance(resource, AlignmentPipeline):
            found = [
                s for s in find_runs(RUNS) if s.path.parent.parent.name.startswith(resource.metadata.name)
            ]
            if not found:
                raise UserError(f"{args.filename}: no local run of {resource.metadata.name!r} under {RUNS}")
            return found[0]
        meta = resource.metadata
        run_dir = RUNS / (meta.namespace or "default") / meta.name / (args.run_id or resource.spec.run_id)
        state = read_state(run_dir)
        if state is None:
            raise UserError(
                f"{args.filename}: no local run in {run_dir} (started with pro run -f {args.filename}?)"
            )
        return state
    found = find_runs(RUNS)
    if not found:
        raise UserError(
            f"no local run under {RUNS}: start one with pro run -f FILE, or name one with --run-dir"
        )
    return found[0]
