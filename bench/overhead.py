"""Orchestration overhead of ``pro run``: a pipeline of stages that do almost nothing, run by ``pro run``,
against the same stages' commands run back to back by hand.

    .venv/bin/python bench/overhead.py [--scale minimal|tiny] [--out DIR] [--repeat N]

Baseline, measured in the same run: every stage's own command (exactly what ``pro run --cold-start``
starts: the stage itself for a one-process stage) run one after the other, each timed from start to exit.
Then ``pro run --parallel 1`` on the same pipeline (fresh run id, so nothing is cached; one-process stages
forked from the run's warm interpreter, ``pro.runner.warm``), a second ``pro run`` that finds everything
committed, and ``pro run --parallel 1 --cold-start``.  Per stage = (pro run − Σ stage times) / stages:
the orchestration's overhead when cold, what warm starts save when negative.
Beside them, the same stages under ``torchrun --standalone --nproc-per-node=1`` (the pod's launcher, which
``pro run`` skips for one process), and by hand with their libraries imported while Python's cyclic garbage
collector runs (as before ``pro.stages.runtime.import_libraries`` paused it and froze what they load).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


#: ``python -c`` running a stage's ``pro`` command with its libraries imported the plain way, the collector
#: running (``pro.cli.stage`` looks ``import_libraries`` up when it runs)
COLLECTOR_RUNNING = (
    "import importlib, sys\n"
    "import pro.stages.runtime as runtime\n"
    "runtime.import_libraries = lambda names: [importlib.import_module(n) for n in names]\n"
    "from pro.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def by_hand(
    pipeline: Path, work: Path, *, torchrun: bool = False, collector_running: bool = False
) -> list[tuple[str, float]]:
    """Each stage's command (``torchrun``: under torchrun; ``collector_running``: its libraries imported
    with the collector running), in dependency order, one at a time: (stage, seconds)."""
    import os

    from pro.runner.process import single_process_env, stage_command, torchrun_command
    from pro.runs import prepare
    from pro.spec import dump_yaml, load_file
    from pro.spec.pipeline import AlignmentPipeline

    c = prepare(load_file(pipeline, AlignmentPipeline)).composition  # the stages pro run would start
    times = []
    for name in c.graph.order:
        stage = c.stage(name)
        spec_file = work / f"{name}.yaml"
        spec_file.write_text(dump_yaml(stage.resource))
        nproc = stage.resources.processes_per_node
        command = (torchrun_command if torchrun else stage_command)(stage.kind, spec_file, nproc)
        if collector_running:  # [python, -m, pro, stage, …] → [python, -c, COLLECTOR_RUNNING, stage, …]
            command = [sys.executable, "-c", COLLECTOR_RUNNING, *command[3:]]
        env = {**os.environ, **(single_process_env() if nproc == 1 and not torchrun else {})}
        t0 = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((name, time.perf_counter() - t0))
    return times


def pro_run(pipeline: Path, run_dir: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pro", "run", "-f", str(pipeline), "--parallel", "1", "--progress", "lines",
         "--run-dir", str(run_dir), *extra],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    from pro.testing.toy_pipeline import MINIMAL, TINY, pipeline_doc, small_world

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=("minimal", "tiny"), default="minimal")
    ap.add_argument("--out", type=Path, default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (medians are reported)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="pro-overhead-"))
    toy = small_world(out / "toy")
    scale = MINIMAL if args.scale == "minimal" else TINY

    rows = []
    for i in range(args.repeat):
        hand_doc = pipeline_doc(toy, str(out / "store-hand"), scale)
        hand_doc["spec"]["runId"] = f"hand-{i}-{time.time_ns()}"
        (out / "hand").mkdir(parents=True, exist_ok=True)
        stages = by_hand(_write(out / "hand.yaml", hand_doc), out / "hand")
        tr_doc = pipeline_doc(toy, str(out / "store-torchrun"), scale)
        tr_doc["spec"]["runId"] = f"torchrun-{i}-{time.time_ns()}"
        under_torchrun = by_hand(_write(out / "torchrun.yaml", tr_doc), out / "hand", torchrun=True)
        gc_doc = pipeline_doc(toy, str(out / "store-gc"), scale)
        gc_doc["spec"]["runId"] = f"gc-{i}-{time.time_ns()}"
        collecting = by_hand(_write(out / "gc.yaml", gc_doc), out / "hand", collector_running=True)
        run_doc = pipeline_doc(toy, str(out / "store-run"), scale)
        run_doc["spec"]["runId"] = f"run-{i}-{time.time_ns()}"
        pipeline = _write(out / "run.yaml", run_doc)
        total = pro_run(pipeline, out / f"run-{i}")
        cached = pro_run(pipeline, out / f"run-{i}")
        cold_doc = pipeline_doc(toy, str(out / "store-cold"), scale)
        cold_doc["spec"]["runId"] = f"cold-{i}-{time.time_ns()}"
        cold = pro_run(_write(out / "cold.yaml", cold_doc), out / f"cold-{i}", "--cold-start")
        rows.append((stages, total, cached, sum(t for _, t in under_torchrun), cold, collecting))

    n = len(rows[0][0])
    stage_sum = statistics.median(sum(t for _, t in r[0]) for r in rows)
    total = statistics.median(r[1] for r in rows)
    cached = statistics.median(r[2] for r in rows)
    torchrun_sum = statistics.median(r[3] for r in rows)
    cold = statistics.median(r[4] for r in rows)
    collecting_sum = statistics.median(sum(t for _, t in r[5]) for r in rows)
    per_stage = (total - stage_sum) / n
    cold_per_stage = (cold - stage_sum) / n
    mean_stage = stage_sum / n
    print(
        f"pro run orchestration overhead ({args.scale} stages, {n} stages, {args.repeat} run(s), medians)\n"
    )
    print("| stage | own run time (s) | its libraries imported with the collector running (s) | ratio |")
    print("|---|---|---|---|")
    for (name, t), (_, before) in zip(rows[0][0], rows[0][5], strict=True):
        print(f"| {name} | {t:.2f} | {before:.2f} | {t / before:.3f} |")
    print()
    print("| measure | seconds | ratio |")
    print("|---|---|---|")
    print(f"| Σ stages run by hand (baseline) | {stage_sum:.2f} | 1.000 |")
    print(f"| pro run --parallel 1 (warm starts) | {total:.2f} | {total / stage_sum:.3f} |")
    print(
        f"| per stage against its own command | {per_stage:+.3f} | {per_stage / mean_stage:+.3f} of a mean stage |"
    )
    print(f"| pro run --parallel 1 --cold-start | {cold:.2f} | {cold / stage_sum:.3f} |")
    print(
        f"| per stage against its own command, cold | {cold_per_stage:+.3f} | "
        f"{cold_per_stage / mean_stage:+.3f} of a mean stage |"
    )
    print(f"| pro run with every stage committed | {cached:.2f} | {cached / stage_sum:.3f} |")
    print(
        f"| Σ stages under torchrun (the pod's launcher) | {torchrun_sum:.2f} | {torchrun_sum / stage_sum:.3f} |"
    )
    print(
        f"| Σ stages by hand, libraries imported with the collector running | {collecting_sum:.2f} | "
        f"{collecting_sum / stage_sum:.3f} |"
    )


if __name__ == "__main__":
    main()
