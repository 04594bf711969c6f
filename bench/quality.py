"""Quality bars of the PRO core on the toy world (CPU).

    .venv/bin/python bench/quality.py [--out DIR] [--quick]

Generates the full toy world (examples/toy/world.yaml), trains the three reward models and the
adapter with the example stage settings (examples/toy/*.yaml, via the stage code), then prints:
RM held-out pairwise accuracy per objective (bar ≥ 0.95), adapter argmax = category's dominant
objective on held-out prompts (≥ 0.95), mean TV to the category's mean target w* (≤ 0.1),
the single-objective check (≥ 0.99) and the wall time of RM ×3 + adapter (≤ 10 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pro.testing.toy_core import DEMO, Profile, category_tv, evaluate_adapter, run_core

FULL = Profile(
    pairs=3000, test_pairs=500, mixed=1500, mixed_test=300, heldout=300,
    rm_hidden=64, rm_layers=2, rm_steps=300, rm_lr=3e-3, adapter_hidden=64, adapter_steps=300, adapter_lr=2e-3,
    batch=32, threads=1,
)  # fmt: skip


def single_objective(out: Path, profile: Profile) -> float:
    """The paper's consistency check: the pipeline on single-objective data (K = 1, humor only)
    must give the weight vector [1.0] for every held-out prompt."""
    import numpy as np

    r = run_core(out / "single", profile, objectives=["humor"])
    ev = evaluate_adapter(str(out / "single" / "store" / "adapter"), out / "single" / "toy")
    assert r["objectives"] == ["humor"]
    return float(np.min(ev["weights"][:, 0]))


def one_hot_targets(out: Path, objective: str) -> float:
    """Observation, no bar: in a world whose hidden weights are one-hot on ``objective`` for every
    category, the share of PRO's target mass (w* from the K = 3 reward models) on that objective."""
    import numpy as np
    import yaml

    from pro.data.schema import read_pairs
    from pro.models.reward import RewardScorer
    from pro.testing.toy_core import WORLD
    from pro.toy.generate import generate
    from pro.weights.targets import target_weights

    spec = yaml.safe_load(WORLD.read_text())
    names = list(spec["objectives"])
    for cat in spec["categories"]:
        cat["weights"] = {o: 1.0 if o == objective else 0.0 for o in names}
    world = out / f"onehot-{objective}.yaml"
    world.write_text(yaml.safe_dump(spec, sort_keys=False))
    generate(world, out / f"onehot-{objective}", seed=0, force=True)
    pairs = read_pairs(out / f"onehot-{objective}" / "mixed.test.jsonl")
    scorers = [RewardScorer.load(out / "store" / f"rm-{o}") for o in names]
    t = target_weights(scorers, names, [p.prompt for p in pairs], [p.chosen for p in pairs], tau=0.1)
    return float(np.mean(t.weights[:, names.index(objective)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="the reduced demo profile instead of the full one")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="pro-quality-"))
    profile = DEMO if args.quick else FULL
    t0 = time.perf_counter()
    r = run_core(out, profile)
    core_s = time.perf_counter() - t0
    single = single_objective(out, DEMO)
    ev = evaluate_adapter(str(out / "store" / "adapter"), out / "toy")
    tv = category_tv(ev["weights"], ev["categories"], r["meanTargetByCategory"], r["objectives"])
    rows = [(f"RM held-out accuracy: {o}", f"{a:.3f}", "≥ 0.95") for o, a in r["rmAccuracy"].items()]
    rows += [
        ("adapter argmax = dominant (held-out prompts)", f"{r['adapterArgmaxDominant']:.3f}", "≥ 0.95"),
        ("adapter mean TV to category mean w*", f"{tv:.3f}", "≤ 0.1"),
        ("single-objective data (K = 1): min weight on the objective", f"{single:.3f}", "≥ 0.99"),
        ("RM ×3 + adapter wall time (s)", f"{core_s:.0f}", "≤ 600"),
    ]
    print("| check | value | bar |\n|---|---|---|")
    for name, value, bar in rows:
        print(f"| {name} | {value} | {bar} |")
    for o in r["objectives"]:
        print(
            f"| observation: PRO target mass on {o} in a world one-hot on {o} | {one_hot_targets(out, o):.3f} | – |"
        )
    print(f"\nmean target w* by category: {json.dumps(r['meanTargetByCategory'])}")
    print(f"artifacts under {out}")


if __name__ == "__main__":
    main()
