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

from pro.stages.demo import DEMO, Profile, adapter_spec, category_tv, evaluate_adapter, run_core

FULL = Profile(
    pairs=3000, test_pairs=500, mixed=1500, mixed_test=300, heldout=300,
    rm_hidden=64, rm_layers=2, rm_steps=300, rm_lr=1e-3, adapter_hidden=64, adapter_steps=300, adapter_lr=2e-3,
    batch=32,
)  # fmt: skip


def single_objective(out: Path, profile: Profile) -> float:
    """K = 3 reward models, adapter trained on one objective's pairs only: mean weight on it."""
    import numpy as np

    from pro.stages import adapter as adapter_stage
    from pro.weights import AdapterWeights

    toy, store = out / "toy", str(out / "store")
    spec = adapter_spec(toy, store, ["helpfulness", "harmlessness", "humor"], profile,
                        data=toy / "pairs" / "humor.jsonl")  # fmt: skip
    spec = spec.model_copy(
        update={"spec": spec.spec.model_copy(update={"output": store + "/adapter-humor-only"})}
    )
    adapter_stage.run(spec)
    w = AdapterWeights(spec.spec.output).weights(
        [json.loads(x)["prompt"] for x in (toy / "heldout.jsonl").read_text().splitlines()]
    )
    return float(np.mean(w[:, 2]))


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
    single = single_objective(out, profile)
    ev = evaluate_adapter(str(out / "store" / "adapter"), out / "toy")
    tv = category_tv(ev["weights"], ev["categories"], r["meanTargetByCategory"], r["objectives"])
    rows = [(f"RM held-out accuracy: {o}", f"{a:.3f}", "≥ 0.95") for o, a in r["rmAccuracy"].items()]
    rows += [
        ("adapter argmax = dominant (held-out prompts)", f"{r['adapterArgmaxDominant']:.3f}", "≥ 0.95"),
        ("adapter mean TV to category mean w*", f"{tv:.3f}", "≤ 0.1"),
        ("single-objective (humor pairs) weight on humor", f"{single:.3f}", "≥ 0.99"),
        ("RM ×3 + adapter wall time (s)", f"{core_s:.0f}", "≤ 600"),
    ]
    print("| check | value | bar |\n|---|---|---|")
    for name, value, bar in rows:
        print(f"| {name} | {value} | {bar} |")
    print(f"\nmean target w* by category: {json.dumps(r['meanTargetByCategory'])}")
    print(f"artifacts under {out}")


if __name__ == "__main__":
    main()
