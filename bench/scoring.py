"""Scoring throughput: batched, length-bucketed path vs a naive one-at-a-time loop (same model, same run).

    .venv/bin/python bench/scoring.py --run DIR [--n 1000]

DIR is the output of ``bench/quality.py --out DIR`` (or ``pro.testing.toy_core.run_core``): one reward
model and the adapter are loaded from it.  Prints prompts/s for each path and the ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    import numpy as np

    from pro.data.schema import read_pairs
    from pro.models.adapter import LoadedAdapter
    from pro.models.reward import RewardScorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    pairs = read_pairs(args.run / "toy" / "pairs" / "helpfulness.test.jsonl")
    pairs = (pairs * (args.n // max(1, len(pairs)) + 1))[: args.n]
    prompts, responses = [p.prompt for p in pairs], [p.chosen for p in pairs]
    rm = RewardScorer.load(args.run / "store" / "rm-helpfulness")
    ad = LoadedAdapter.load(args.run / "store" / "adapter")

    def timed(fn):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t

    rows = []
    b, tb = timed(lambda: rm.score(prompts, responses, batch_size=args.batch_size))
    n, tn = timed(lambda: rm.score_one_by_one(prompts, responses))
    assert np.allclose(b, n, atol=1e-3)
    rows.append(("reward model (prompt+response)", len(prompts) / tb, len(prompts) / tn))
    b, tb = timed(lambda: ad.weights(prompts, batch_size=args.batch_size))
    n, tn = timed(lambda: ad.weights_one_by_one(prompts))
    assert np.allclose(b, n, atol=1e-4)
    rows.append(("adapter (prompt → weights)", len(prompts) / tb, len(prompts) / tn))
    print("| model | batched prompts/s | one-at-a-time prompts/s | ratio |\n|---|---|---|---|")
    for name, fast, slow in rows:
        print(f"| {name} | {fast:,.0f} | {slow:,.0f} | {fast / slow:.1f}× |")
    print(
        f"\n{args.n} prompts, batch size {args.batch_size}, torch threads {__import__('torch').get_num_threads()}"
    )


if __name__ == "__main__":
    main()
