"""Check (a): PRO's targets with and without z-normalisation of the reward models' scores (toy world, CPU).

    python bench/znorm.py [--root runs/optimum] [--align] [--quick]

The shipped world's reward models (as ``bench/optimum.py`` trains them) score the mixed set's preferred
responses; the targets ``softmax(s / tau)`` use the scores z-normalised over the data set (the default),
with each reward model's recorded statistics, or raw.  Per normalisation: the share of held-out
prompts whose target argmax is the category's dominant objective, an adapter trained on those targets
(its argmax agreement per category), and with ``--align`` PRO-MORLHF with that adapter — its share of the
optimum and win rate against the (shared) uniform-weight run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as `python bench/<script>.py`: the repository root, so that `bench` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.checks_common import REPO, WORLD, section, shipped, weights_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(REPO / "runs" / "optimum"))
    p.add_argument("--align", action="store_true", help="also align PRO with each adapter (minutes each)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import torch

    from pro.data.schema import read_pairs
    from pro.models.reward import RewardScorer
    from pro.store import local_artifact
    from pro.testing import study
    from pro.toy import World
    from pro.weights.targets import target_weights

    torch.set_num_threads(1)
    root = Path(args.root)
    base, profile = shipped(root, args.quick)
    world = World.load(base.toy)
    pairs = read_pairs(base.toy / "mixed.jsonl")
    scorers = [
        RewardScorer.load(local_artifact(base.reward_models[o], "config.json")) for o in base.objectives
    ]
    print(
        "| normalisation | targets: argmax = dominant | adapter: argmax = dominant, per category | adapter mean weights, per category | PRO greedy share | PRO sampled share | win rate vs uniform |"
    )
    print("|---|---|---|---|---|---|---|")
    for how in ("dataset", "recorded", "none"):
        t = target_weights(
            scorers,
            base.objectives,
            [x.prompt for x in pairs],
            [x.chosen for x in pairs],
            tau=profile.tau,
            normalization=how,
        )  # type: ignore[arg-type]
        dominant = np.asarray(
            [base.objectives.index(world.dominant(x.category or world.category_of(x.prompt))) for x in pairs]
        )
        hit = float(np.mean(t.weights.argmax(axis=1) == dominant))
        variant = (
            base
            if how == "dataset"
            else study.prepare(  # the default's adapter is the world's own
                root / f"znorm-{how}", WORLD, profile, reuse=base, adapter={"target_normalization": how}
            )
        )
        by = study.adapter_by_category(variant)
        cells = ", ".join(f"{c} {v['argmaxDominant']:.2f}" for c, v in by.items())
        means = ", ".join(f"{c} {weights_text(v['mean'])}" for c, v in by.items())
        tail = "– | – | –"
        if args.align:
            r = study.pro_vs_uniform(variant, section(args.quick), 0, baseline=base, samples=2 if args.quick else 4,
                                     max_prompts=8 if args.quick else None)  # fmt: skip
            tail = (
                f"{r['pro']['shareGreedy']:.1%} | {r['pro']['shareSampled']:.1%} | {r['winRateGreedy']:.3f}"
            )
        print(f"| {how} | {hit:.3f} | {cells} | {means} | {tail} |", flush=True)
    print(f"\nhidden weights ({'/'.join(base.objectives)}): "
          + ", ".join(f"{c} {weights_text(world.category_weights(c))}" for c in world.categories))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
