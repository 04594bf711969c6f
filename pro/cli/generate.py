"""``pro generate``: completions from an aligned policy, with the weights the adapter chose per prompt.

For a WIC policy the weights are written into the prompt (the paper's "weights at deployment"); for a
MORLHF policy they are reported next to each completion.  Output: JSONL rows
``{"id"?, "prompt", "weights": {objective: w}, "completion"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pro.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Generate completions with an aligned policy and per-prompt weights."
    parser.epilog = (
        "examples:\n"
        "  pro generate --policy examples/toy/toy-out/store/default/toy/default/align \\\n"
        "    --adapter examples/toy/toy-out/store/default/toy/default/adapter \\\n"
        "    --prompts examples/toy/toy-out/heldout.jsonl --out completions.jsonl\n"
        "  pro generate --policy examples/toy/toy-out/store/align-wic --uniform \\\n"
        "    --prompts prompts.txt"
    )
    parser.add_argument(
        "--policy", required=True, metavar="URI", help="policy artifact (s3://, file:// or a path)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--adapter", metavar="URI", help="adapter artifact: its weights per prompt")
    mode.add_argument("--uniform", action="store_true", help="1/K for every objective")
    mode.add_argument("--fixed", metavar="NAME=W,…", help="one weight vector for every prompt")
    parser.add_argument(
        "--prompts", required=True, metavar="FILE", help="JSONL with a prompt field, or text lines"
    )
    parser.add_argument("--out", "-o", metavar="FILE", help="output JSONL (default: standard output)")
    parser.add_argument(
        "--temperature", type=float, default=0.0, help="sampling temperature (default 0: greedy)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=64, help="longest completion (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")


def run(args: argparse.Namespace) -> int:
    from pro.cli.weights import read_prompt_file
    from pro.models.quiet import quiet_libraries

    quiet_libraries()

    if args.temperature < 0:
        raise UserError("--temperature must be ≥ 0")
    if args.max_new_tokens < 1:
        raise UserError("--max-new-tokens must be ≥ 1")
    rows = read_prompt_file(args.prompts)
    if not rows:
        raise UserError(f"{args.prompts}: no prompts")
    from pro.align.generation import generate_with_weights

    results = generate_with_weights(
        args.policy,
        [p for _, p in rows],
        adapter=args.adapter,
        uniform=args.uniform,
        fixed=args.fixed,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    out = Path(args.out).open("w") if args.out else sys.stdout  # noqa: SIM115
    try:
        for (ident, _), row in zip(rows, results, strict=True):
            out.write(json.dumps(({"id": ident} if ident is not None else {}) | row) + "\n")
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote {len(results)} completions to {args.out}", file=sys.stderr)
    return 0
