"""``pro demo``: run, on this machine, every part of the pipeline that is built so far.

The finished demo is ``pro toy generate`` + ``pro run -f examples/toy/pipeline.yaml``
(issue #6).  Until then each step runs if its part exists and says so if not.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pro.errors import NotImplementedYet


@dataclass(frozen=True)
class Step:
    """One demo step; ``action`` raises :class:`NotImplementedYet` while its part is missing."""

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


def _toy_core(out: Path, console: Console) -> str:
    from pro.stages.demo import toy_core

    return toy_core(out / "core")


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "toy"


def _example(name: str, core: Path) -> dict[str, Any]:
    """An example stage spec with its ``toy-out`` paths moved to the demo's core run."""
    import yaml

    text = (EXAMPLES / name).read_text()
    doc: dict[str, Any] = yaml.safe_load(
        text.replace("toy-out/store", f"{core}/store").replace("toy-out", f"{core}/toy")
    )
    return doc


def _alignment(out: Path, console: Console) -> str:
    """PRO-MORLHF with adapter weights vs uniform weights (80 GRPO steps each), judged by the true utility."""
    from pro.spec.align import PolicyAlignment
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import align, evaluate

    core = (out / "core").resolve()
    if not (core / "store" / "adapter" / "manifest.json").exists():
        raise RuntimeError("needs the reward models and adapter of the previous step")
    for mode in ("adapter", "uniform"):
        doc = _example("align-pro.yaml", core)
        spec = doc["spec"]
        doc["metadata"]["name"] = f"demo-align-{mode}"
        spec["weights"] = {"mode": mode, "floor": 0.2} | (
            {"adapter": spec["weights"]["adapter"]} if mode == "adapter" else {}
        )
        spec["training"]["maxSteps"] = 80
        spec["output"] = f"{core}/store/align-{mode}"
        align.run(PolicyAlignment.model_validate(doc))
    ev = _example("eval.yaml", core)
    ev["spec"]["policyA"] = {"name": "pro", "uri": f"{core}/store/align-adapter"}
    ev["spec"]["policyB"] = {"name": "uniform", "uri": f"{core}/store/align-uniform"}
    m = evaluate.run(PolicyEvaluation.model_validate(ev))
    return (
        f"PRO vs uniform weights: win rate {m['winRate']:.2f} on {m['prompts']} held-out prompts "
        f"(true utility {m['meanJudge']['a']:.2f} vs {m['meanJudge']['b']:.2f}); "
        f"report {core}/store/eval/report.html"
    )


def _not_built(issue: int, what: str) -> Callable[[Path, Console], str]:
    def action(out: Path, console: Console) -> str:
        raise NotImplementedYet(f"{what}: not built yet (issue #{issue})")

    return action


STEPS: tuple[Step, ...] = (
    Step("environment", _environment),
    Step("artifact store round trip", _store_round_trip),
    Step("toy world, 3 reward models, adapter", _toy_core),
    Step("PRO-MORLHF vs uniform weights, evaluation", _alignment),
    Step("whole pipeline with pro run", _not_built(6, "pipeline runner")),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="directory for the demo's outputs")


def run(args: argparse.Namespace) -> int:
    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = Table(title="pro demo")
    for col in ("step", "result", "seconds", "details"):
        table.add_column(col)
    failed = False
    for step in STEPS:
        start = time.monotonic()
        console.print(f"[bold]→ {step.title}[/bold]")
        try:
            details, result = step.action(out, console), "[green]ok[/green]"
        except NotImplementedYet as err:
            details, result = str(err), "[yellow]not built yet[/yellow]"
        except Exception as err:  # a demo step that breaks is reported, the rest still runs
            details, result, failed = f"{type(err).__name__}: {err}", "[red]failed[/red]", True
        console.print(f"  {details}", markup=False, highlight=False)
        table.add_row(step.title, result, f"{time.monotonic() - start:.1f}", details)
    console.print(table)
    return 1 if failed else 0
