"""What limits PRO on the toy world, measured as a share of the world's exact optimum (CPU).

    python bench/optimum.py --configs example beta0.05 steps400        # the shipped world
    python bench/optimum.py --random-worlds 10 --configs example --wic  # the distribution over random worlds
    python bench/optimum.py --quick                                     # seconds: the CI check

Per world (the shipped ``examples/toy/world.yaml`` or random worlds, ``pro.toy.random_world``): the data,
K reward models and the adapter with the example pipeline's settings (once, under ROOT).  Per
configuration — the example pipeline's ``alignment`` section (``examples/toy/pipeline.yaml``; PRO-WIC:
``examples/toy/align-wic.yaml``) with the fields of ``CONFIGS[name]`` changed — and seed: one
``PolicyAlignment`` stage with the adapter's weights (PRO) and one with uniform weights, judged on the
world's held-out prompts by the hidden true utility, greedy and at the training temperature (``--samples``
per prompt: mean and best-of-n), each as a share of the per-prompt optimum; win rate of PRO vs uniform
(ties ½).  PRO-WIC: one policy, held-out completions under the adapter's weight tags vs uniform tags.

Rows go to ROOT/results.jsonl as they finish (a rerun skips finished rows); the table is printed at the
end (``--table`` prints it from the file without running anything).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

#: name → fields of the example pipeline's alignment section to change (nested mappings merge)
CONFIGS: dict[str, dict[str, Any]] = {
    "example": {},
    "steps100": {"training": {"maxSteps": 100}},
    "steps400": {"training": {"maxSteps": 400}},
    "group8": {"generation": {"numGenerations": 8}},
    "beta0": {"beta": 0.0},
    "beta0.05": {"beta": 0.05},
    "beta0.5": {"beta": 0.5},
    "lr3e-4": {"training": {"learningRate": 3e-4}},
    "lr3e-3": {"training": {"learningRate": 3e-3}},
    "temp1.0": {"generation": {"temperature": 1.0}},
    "temp0.5": {"generation": {"temperature": 0.5}},
    "floor0": {"weights": {"floor": 0.0}},
    "floor0.05": {"weights": {"floor": 0.05}},
    "floor0.1": {"weights": {"floor": 0.1}},
    "floor0.2": {"weights": {"floor": 0.2}},
    "rloo": {"algorithm": "rloo"},
    "sft50": {"init": {"steps": 50}},
    "sft400": {"init": {"steps": 400}},
}
WIC_CONFIGS: dict[str, dict[str, Any]] = {
    "example": {},
    "online60": {"wic": {"onlineSteps": 60}},
    "online100": {"wic": {"onlineSteps": 100}},
    "explore0.3": {"wic": {"exploration": 0.3}},
    "floor0": {"weights": {"floor": 0.0}},
    "keep2": {"wic": {"keepTop": 2}},
    "offline300": {"wic": {"offlineSteps": 300}},
}
QUICK: dict[str, Any] = {
    "training": {"perDeviceBatchSize": 8},
    "init": {"steps": 2, "batchSize": 8},
    "generation": {"maxNewTokens": 8, "numGenerations": 2},
    "policy": {"config": {"hiddenSize": 16, "numHiddenLayers": 1, "numAttentionHeads": 2, "numKeyValueHeads": 2,
                          "intermediateSize": 32}},
}  # fmt: skip
#: --quick, per method: each sets only what its method reads (anything else is refused)
QUICK_METHOD: dict[str, dict[str, Any]] = {
    "morlhf": {"training": {"maxSteps": 2}},
    "wic": {"wic": {"offlineSteps": 2, "onlineSteps": 1, "promptsPerRound": 4}},
}


def world_spec(root: Path, which: str) -> Path:
    """``shipped`` (examples/toy/world.yaml) or ``random-<seed>`` (written under ROOT)."""
    if which == "shipped":
        return REPO / "examples" / "toy" / "world.yaml"
    from pro.spec.loader import dump_yaml
    from pro.toy.random_world import random_world

    path = root / f"{which}.yaml"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_yaml(random_world(int(which.split("-", 1)[1]))))
    return path


def run_row(args: argparse.Namespace, world_name: str, config: str, seed: int, wic: bool) -> dict[str, Any]:
    """One (world, configuration, seed): the stages, the judging, the numbers."""
    from pro.spec.align import WeightSettings
    from pro.testing import study

    root = Path(args.root) / world_name
    random_world = world_name.startswith("random-")
    profile = (
        study.QUICK_PROFILE
        if args.quick
        else study.RANDOM_PROFILE
        if random_world
        else study.PIPELINE_PROFILE
    )
    world = study.prepare(root, world_spec(Path(args.root), world_name), profile, quick=args.quick)
    if wic:
        base: dict[str, Any] = yaml.safe_load((REPO / "examples/toy/align-wic.yaml").read_text())["spec"]
        for k in ("objectives", "rewardModels", "output"):
            base.pop(k)
        over = WIC_CONFIGS[config]
    else:
        base, over = study.example_alignment(), CONFIGS[config]
    section = study.merge(base, over)
    if args.quick:
        section = study.merge(study.merge(section, QUICK), QUICK_METHOD["wic" if wic else "morlhf"])
    temperature = float(section["generation"]["temperature"])
    max_new = int(section["generation"]["maxNewTokens"])
    judge = {"samples": args.samples, "temperature": temperature, "max_new_tokens": max_new,
             "max_prompts": args.max_prompts}  # fmt: skip
    row: dict[str, Any] = {"world": world_name, "method": "wic" if wic else "morlhf", "config": config,
                           "seed": seed, "core": world.core}  # fmt: skip
    if wic:
        doc = study.alignment_doc(world, section, {"mode": "adapter"}, f"wic-s{seed}", seed)
        m = study.align(world, doc)
        uri = doc["spec"]["output"]
        pro = study.judge_policy(
            uri, world.toy, weights=WeightSettings(mode="adapter", adapter=world.adapter), **judge
        )
        base_j = study.judge_policy(uri, world.toy, weights=WeightSettings(mode="uniform"), **judge)
        row |= study.summary(pro, base_j) | {"alignSeconds": {"pro": m["seconds"]}}
    else:
        row |= study.pro_vs_uniform(world, section, seed, samples=args.samples, max_prompts=args.max_prompts)
    return row


def load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (world, method, config), means over seeds."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["world"], r["method"], r["config"]), []).append(r)
    lines = [
        "| world | method | config | seeds | PRO greedy | PRO sampled | PRO best-of-n | uniform greedy | "
        "uniform sampled | win rate greedy | win rate sampled | align s (PRO) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (world, method, config), rs in groups.items():

        def m(*keys: str, rows: list[dict[str, Any]] = rs) -> float:
            vals = []
            for r in rows:
                v: Any = r
                for k in keys:
                    v = v[k]
                vals.append(v)
            return float(np.mean(vals))

        lines.append(
            f"| {world} | {method} | {config} | {len(rs)} | {m('pro', 'shareGreedy'):.1%} | "
            f"{m('pro', 'shareSampled'):.1%} | {m('pro', 'shareBestOfN'):.1%} | {m('uniform', 'shareGreedy'):.1%} | "
            f"{m('uniform', 'shareSampled'):.1%} | {m('winRateGreedy'):.3f} | {m('winRateSampled'):.3f} | "
            f"{m('alignSeconds', 'pro' if method == 'wic' else 'adapter'):.0f} |"
        )
    return "\n".join(lines)


def distribution(rows: list[dict[str, Any]]) -> str:
    """Markdown: over random worlds, median and worst share of the optimum per method and policy."""
    lines = ["| method | config | worlds | policy | median share (greedy) | worst | median share (sampled) | worst | "
             "median win rate vs uniform (greedy) | worst |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        if r["world"].startswith("random-"):
            groups.setdefault((r["method"], r["config"]), {}).setdefault(r["world"], []).append(r)
    for (method, config), by_world in groups.items():
        firsts = [rs[0] for rs in by_world.values()]
        for label in ("pro", "uniform"):
            g = [r[label]["shareGreedy"] for r in firsts]
            s = [r[label]["shareSampled"] for r in firsts]
            w = (
                [r["winRateGreedy"] for r in firsts]
                if label == "pro"
                else [1 - r["winRateGreedy"] for r in firsts]
            )
            lines.append(
                f"| {method} | {config} | {len(firsts)} | {label} | {np.median(g):.1%} | {min(g):.1%} | "
                f"{np.median(s):.1%} | {min(s):.1%} | {np.median(w):.3f} | {min(w):.3f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(REPO / "runs" / "optimum"), help="work directory (git-ignored)")
    p.add_argument("--configs", nargs="+", default=["example"], help=f"of {', '.join(CONFIGS)}")
    p.add_argument("--wic-configs", nargs="*", default=["example"], help=f"of {', '.join(WIC_CONFIGS)}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--random-worlds", type=int, default=0, help="run on random worlds 0..N-1 instead")
    p.add_argument("--wic", action="store_true", help="also PRO-WIC (adapter tags vs uniform tags)")
    p.add_argument("--no-morlhf", action="store_true", help="only PRO-WIC")
    p.add_argument("--samples", type=int, default=4, help="sampled completions per held-out prompt")
    p.add_argument("--max-prompts", type=int, default=None, help="judge at most this many held-out prompts")
    p.add_argument("--quick", action="store_true", help="a tiny world and a few steps: the CI check")
    p.add_argument("--table", action="store_true", help="print the tables from ROOT/results.jsonl and stop")
    args = p.parse_args(argv)
    if args.quick:
        args.root = args.root if "--root" in (argv or sys.argv) else tempfile.mkdtemp(prefix="pro-optimum-")
        args.samples = min(args.samples, 2)
        args.max_prompts = args.max_prompts or 8
    results = Path(args.root) / "results.jsonl"
    done = {(r["world"], r["method"], r["config"], r["seed"]) for r in load_rows(results)}
    if not args.table:
        import torch

        torch.set_num_threads(1)
        worlds = [f"random-{i}" for i in range(args.random_worlds)] if args.random_worlds else ["shipped"]
        plan = []  # world by world, so an interrupted run leaves whole worlds
        for w in worlds:
            plan += [(w, c, s, False) for c in ([] if args.no_morlhf else args.configs) for s in args.seeds]
            if args.wic or args.no_morlhf:
                plan += [(w, c, s, True) for c in args.wic_configs for s in args.seeds]
        for world_name, config, seed, wic in plan:
            key = (world_name, "wic" if wic else "morlhf", config, seed)
            if key in done:
                continue
            t = time.perf_counter()
            row = run_row(args, world_name, config, seed, wic)
            row["seconds"] = round(time.perf_counter() - t, 1)
            results.parent.mkdir(parents=True, exist_ok=True)
            with results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{key}: PRO {row['pro']['shareGreedy']:.1%} greedy / {row['pro']['shareSampled']:.1%} sampled, "
                  f"uniform {row['uniform']['shareGreedy']:.1%}, win rate {row['winRateGreedy']:.3f} "
                  f"({row['seconds']} s)", flush=True)  # fmt: skip
    rows = load_rows(results)
    print(table(rows))
    if any(r["world"].startswith("random-") for r in rows):
        print()
        print(distribution(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
