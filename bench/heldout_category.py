"""Check (b): the adapter on a prompt category it never saw in training (toy world, CPU).

    python bench/heldout_category.py [--root runs/optimum] [--quick]

For each category of the shipped world: the adapter is trained again on the mixed set without that
category's rows (same reward models), and its weights on the held-out prompts of the unseen category are
compared with the full adapter's and with the hidden truth: the share whose argmax is the category's
dominant objective, and the mean weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: the repository root, so that `bench` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.checks_common import REPO, WORLD, shipped, weights_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(REPO / "runs" / "optimum"))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import torch

    from pro.testing import study
    from pro.toy import World

    torch.set_num_threads(1)
    root = Path(args.root)
    base, profile = shipped(root, args.quick)
    full = study.adapter_by_category(base)
    world = World.load(base.toy)
    order = "/".join(base.objectives)
    print(
        f"| held-out category | argmax = dominant: unseen | argmax = dominant: full adapter | mean weights ({order}): unseen | full adapter | truth |"
    )
    print("|---|---|---|---|---|---|")
    for c in world.categories:

        def drop(toy: Path, c: str = c) -> None:
            for name in ("mixed.jsonl",):
                rows = [
                    line
                    for line in (toy / name).read_text().splitlines()
                    if json.loads(line).get("category") != c
                ]
                (toy / name).write_text("\n".join(rows) + "\n")

        variant = study.prepare(root / f"without-{c}", WORLD, profile, reuse=base, edit=drop)
        seen = study.adapter_by_category(variant)[c]
        print(f"| {c} | {seen['argmaxDominant']:.2f} | {full[c]['argmaxDominant']:.2f} | {weights_text(seen['mean'])} | "
              f"{weights_text(full[c]['mean'])} | {weights_text(seen['truth'])} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
