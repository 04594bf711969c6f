"""``pro logs STAGE [-f]``: a local run's stage log (every attempt), following it while the stage runs."""

from __future__ import annotations

import argparse

from pro.cli.runs_arg import add_run_arguments, run_from

EXAMPLES = """\
examples:
  # the latest local run's rm-humor log
  pro logs rm-humor
  # print as it grows, until the stage stops running
  pro logs align --follow
  pro logs eval --tail 20 -f examples/toy/pipeline.yaml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Print a stage's log from a local run (pro run), like kubectl logs."
    parser.epilog = EXAMPLES
    parser.add_argument(
        "stage", metavar="STAGE", help="the stage (rm-<objective>, adapter, align, align-baseline, eval)"
    )
    add_run_arguments(parser)
    parser.add_argument("--follow", action="store_true", help="keep printing while the stage runs")
    parser.add_argument("--tail", type=int, metavar="N", help="only the last N lines")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from pro.errors import UserError
    from pro.runner.state import read_state

    state = run_from(args)
    stage = state.stage(args.stage)
    if stage is None:
        known = ", ".join(s["name"] for s in state.data.get("stages", []))
        raise UserError(f"run {state.data.get('runId')} has no stage {args.stage!r} (stages: {known})")
    log = Path(stage["log"])
    if not log.exists():
        raise UserError(f"{args.stage} has no log yet ({stage['phase']}: it has not started in this run)")
    with log.open("r", encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
        start = max(0, len(lines) - args.tail) if args.tail is not None else 0
        sys.stdout.writelines(lines[start:])
        sys.stdout.flush()
        while args.follow:
            chunk = fh.read()
            if chunk:
                sys.stdout.write(chunk)
                sys.stdout.flush()
                continue
            now = read_state(state.path.parent)
            current = now.stage(args.stage) if now is not None else None
            if now is None or not now.live or current is None or current["phase"] != "Running":
                break
            time.sleep(0.5)
    return 0
