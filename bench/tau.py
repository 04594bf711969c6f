"""tau ablation: weight entropy and accuracy of the targets and the adapter for tau ∈ {0.05, 0.1, 0.5, 1.0}.

    .venv/bin/python bench/tau.py --run DIR

DIR is the output of ``bench/quality.py --out DIR`` (or of ``pro.testing.toy_core.run_core``): its reward
models are reused; for each tau the targets are recomputed and an adapter is trained.  Columns: mean
target entropy (nats), target argmax = category's dominant objective, adapter's held-out argmax
accuracy and mean entropy of its predictions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

TAUS = (0.05, 0.1, 0.5, 1.0)


def main() -> None:
    import json

    import numpy as np

    from pro.stages import adapter as adapter_stage
    from pro.testing.toy_core import DEMO, adapter_spec, evaluate_adapter
    from pro.weights.targets import entropy

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    args = ap.parse_args()
    toy, store = args.run / "toy", str(args.run / "store")
    objectives = json.loads((toy / "truth.json").read_text())["objectives"]
    print(
        "| tau | target entropy | adapter entropy | adapter argmax = dominant | held-out KL |\n|---|---|---|---|---|"
    )
    for tau in TAUS:
        spec = adapter_spec(toy, store, objectives, DEMO.__class__(**{**DEMO.__dict__, "tau": tau}))
        spec = spec.model_copy(
            update={"spec": spec.spec.model_copy(update={"output": f"{store}/adapter-tau-{tau}"})}
        )
        m = adapter_stage.run(spec)
        ev = evaluate_adapter(spec.spec.output, toy)
        print(
            f"| {tau} | {m['targetEntropy']:.3f} | {float(np.mean(entropy(ev['weights']))):.3f} "
            f"| {ev['argmaxDominant']:.3f} | {m.get('heldoutKL', float('nan')):.3f} |"
        )


if __name__ == "__main__":
    main()
