"""Check (c): preference noise — 10/20/30 % of each objective's training labels flipped (toy world, CPU).

    python bench/noise.py [--root runs/optimum] [--rates 0.1 0.2 0.3] [--align] [--quick]

Per rate: the shipped world's per-objective training pairs with that share of pairs' chosen and rejected
swapped (test pairs stay clean), reward models and adapter trained on them as ``bench/optimum.py`` trains
them, then: each reward model's accuracy on the clean held-out pairs, the adapter's argmax agreement with
the dominant objective on held-out prompts, and with ``--align`` PRO-MORLHF and uniform-weight MORLHF on
those reward models — PRO's share of the optimum and its win rate.  Rate 0 is the unflipped world.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as `python bench/<script>.py`: the repository root, so that `bench` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.checks_common import REPO, WORLD, section, shipped


def flipper(rate: float, seed: int = 0):  # type: ignore[no-untyped-def]
    def flip(toy: Path) -> None:
        rng = random.Random(seed)
        for path in sorted((toy / "pairs").glob("*.jsonl")):
            if path.name.endswith(".test.jsonl"):
                continue
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            for i in rng.sample(range(len(rows)), round(rate * len(rows))):
                rows[i]["chosen"], rows[i]["rejected"] = rows[i]["rejected"], rows[i]["chosen"]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    return flip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(REPO / "runs" / "optimum"))
    p.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    p.add_argument("--align", action="store_true", help="also align PRO and uniform per rate (minutes each)")
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--profile",
        choices=["pipeline", "random"],
        default="pipeline",
        help="reward models and adapter as the pipeline trains them, or the random worlds' fewer steps",
    )
    args = p.parse_args(argv)
    import torch

    from pro.testing import study

    torch.set_num_threads(1)
    root = Path(args.root)
    if args.profile == "random" and not args.quick:
        profile = study.RANDOM_PROFILE
        base = study.prepare(root / "shipped-random-profile", WORLD, profile)
    else:
        base, profile = shipped(root, args.quick)
    names = base.objectives
    print(
        f"| flipped | RM accuracy ({'/'.join(names)}) | adapter argmax = dominant | PRO greedy share | PRO sampled share | uniform greedy share | win rate PRO vs uniform |"
    )
    print("|---|---|---|---|---|---|---|")
    for rate in [0.0, *args.rates]:
        world = base if rate == 0 else study.prepare(root / f"noise-{args.profile}-{rate}", WORLD, profile,
                                                     quick=args.quick, edit=flipper(rate))  # fmt: skip
        acc = "/".join(f"{world.core['rmAccuracy'][o]:.3f}" for o in names)
        by = study.adapter_by_category(world)
        argmax = float(np.mean([v["argmaxDominant"] for v in by.values()]))
        tail = "– | – | – | –"
        if args.align:
            r = study.pro_vs_uniform(world, section(args.quick), 0, samples=2 if args.quick else 4,
                                     max_prompts=8 if args.quick else None)  # fmt: skip
            tail = (f"{r['pro']['shareGreedy']:.1%} | {r['pro']['shareSampled']:.1%} | {r['uniform']['shareGreedy']:.1%} | "
                    f"{r['winRateGreedy']:.3f}")  # fmt: skip
        print(f"| {rate:.0%} | {acc} | {argmax:.3f} | {tail} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
