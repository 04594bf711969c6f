"""``pro demo``: the embedded default end to end on this machine — the toy world, then
``pro run`` on a copy of ``examples/toy/pipeline.yaml`` (3 reward models → adapter → PRO-MORLHF and a
uniform-weight baseline → evaluation), ending with the PRO-vs-uniform table and each policy's share of the
toy world's optimum.  Everything it writes is under ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "toy"


@dataclass(frozen=True)
class Step:
    """One demo step: its title and what it does (returns a one-line result)."""

    title: str
    action: Callable[[Path, Console], str]


def _environment(out: Path, console: Console) -> str:
    import torch  # the demo is the one verb that should warm up torch

    from pro.cli.version import versions

    found = versions()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise RuntimeError(f"missing libraries: {', '.join(missing)}")
    return f"torch {found['torch']} on {device}, {torch.get_num_threads()} threads; all libraries present"


def _store_round_trip(out: Path, console: Console) -> str:
    from pro.store.demo import round_trip

    return round_trip(out)


def _toy_world(out: Path, console: Console) -> str:
    from pro.toy.generate import generate

    summary = generate(EXAMPLES / "world.yaml", out / "toy-out", force=True)
    return f"{summary.out}: {sum(summary.counts.values())} rows in {len(summary.counts)} files"


def _pipeline(out: Path, console: Console) -> str:
    """``pro run`` on a copy of the example pipeline in ``out``: its relative paths (toy-out/…) are relative
    to the file, so the world and the store are ``out``'s; run there, its run directory (.pro) is too."""
    shutil.copyfile(EXAMPLES / "pipeline.yaml", out / "pipeline.yaml")
    cmd = [sys.executable, "-m", "pro", "run", "-f", "pipeline.yaml"]
    code = subprocess.run(cmd, cwd=out, check=False).returncode
    if code != 0:
        raise RuntimeError(f"pro run exited with {code}; logs under {out / '.pro' / 'runs'}")
    import json

    from pro.eval.table import headline

    ev = out / "toy-out" / "store" / "default" / "toy" / "default" / "eval"
    return f"{headline(json.loads((ev / 'metrics.json').read_text()))}; report {ev / 'report.html'}"


STEPS: tuple[Step, ...] = (
    Step("environment", _environment),
    Step("artifact store round trip", _store_round_trip),
    Step("toy world (pro toy generate)", _toy_world),
    Step("whole pipeline (pro run, examples/toy/pipeline.yaml)", _pipeline),
)


DESCRIPTION = """\
The embedded default end to end on this machine: the toy world (pro toy generate), then
pro run on a copy of examples/toy/pipeline.yaml (3 reward models, the prompt adapter, PRO-MORLHF and a
uniform-weight baseline, the evaluation), ending with the PRO-vs-uniform table and each policy's share of
the toy world's optimum.  Everything it writes is under --out: the world in OUT/toy-out, artifacts in
OUT/toy-out/store, the run's logs in OUT/.pro/runs.
"""
HELP_EXAMPLES = """\
examples:
  pro demo
  pro demo --out /tmp/pro-demo
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = HELP_EXAMPLES
    parser.add_argument("--out", default="demo-output", help="directory for the demo's outputs")


def run(args: argparse.Namespace) -> int:
    console = Console()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    table = Table(title="pro demo", title_justify="left")
    for col in ("STEP", "RESULT", "SECONDS"):
        table.add_column(col, justify="right" if col == "SECONDS" else "left")
    for step in STEPS:
        start = time.monotonic()
        console.print(f"[bold]→ {step.title}[/bold]")
        try:
            details, result = step.action(out, console), "[green]ok[/green]"
        except Exception as err:  # a broken step ends the demo: the next ones need it
            table.add_row(step.title, "[red]failed[/red]", f"{time.monotonic() - start:.1f}")
            console.print(table)
            console.print(f"{step.title} failed: {type(err).__name__}: {err}", markup=False, highlight=False)
            return 1
        console.print(f"  {details}", markup=False, highlight=False)
        table.add_row(step.title, result, f"{time.monotonic() - start:.1f}")
    console.print(table)
    return 0
