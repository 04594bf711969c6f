"""``pro weights``: per-prompt objective weights from an adapter, or a fixed-weight baseline.

Reads prompts from JSONL (``{"prompt": …}`` rows, e.g. held-out prompt files) or plain text (one per
line); writes JSONL rows ``{"id"?, "prompt", "weights": {objective: w}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pro.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Predict per-prompt objective weights."
    parser.epilog = (
        "examples:\n"
        "  pro weights --adapter examples/toy/toy-out/store/default/toy/default/adapter \\\n"
        "    --prompts examples/toy/toy-out/heldout.jsonl --out weights.jsonl\n"
        "  pro weights --uniform --objectives helpfulness,harmlessness,humor \\\n"
        "    --prompts prompts.txt\n"
        "  pro weights --fixed helpfulness=0.6,harmlessness=0.3,humor=0.1 \\\n"
        "    --prompts prompts.txt"
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--adapter", metavar="URI", help="adapter artifact (s3://, file:// or a path)")
    mode.add_argument("--uniform", action="store_true", help="1/K for every objective (needs --objectives)")
    mode.add_argument("--fixed", metavar="NAME=W,…", help="one weight vector for every prompt")
    parser.add_argument("--objectives", metavar="A,B,…", help="objective names (with --uniform)")
    parser.add_argument(
        "--prompts", required=True, metavar="FILE", help="JSONL with a prompt field, or text lines"
    )
    parser.add_argument("--out", "-o", metavar="FILE", help="output JSONL (default: standard output)")
    parser.add_argument("--batch-size", type=int, default=64, help="prompts per forward pass (default 64)")
    parser.add_argument("--cache", metavar="FILE", help="persistent prompt-hash cache (JSONL) for --adapter")


def read_prompt_file(path: str) -> list[tuple[str | None, str]]:
    """(id, prompt) rows from a JSONL file (``prompt`` field) or a text file (one prompt per line)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    rows: list[tuple[str | None, str]] = []
    if p.suffix in (".jsonl", ".json", ".ndjson", ".parquet"):
        from pro.data.schema import read_prompts

        return [(r.id, r.prompt) for r in read_prompts(p)]
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append((None, line))
    return rows


def run(args: argparse.Namespace) -> int:
    from pro.models.quiet import quiet_libraries
    from pro.weights import AdapterWeights, FixedWeights, UniformWeights, WeightProvider, parse_fixed

    quiet_libraries()

    provider: WeightProvider
    if args.adapter:
        provider = AdapterWeights(args.adapter, batch_size=args.batch_size, cache_file=args.cache)
    elif args.uniform:
        if not args.objectives:
            raise UserError("--uniform needs --objectives A,B,…")
        provider = UniformWeights([o.strip() for o in args.objectives.split(",") if o.strip()])
    else:
        provider = FixedWeights(parse_fixed(args.fixed))
    rows = read_prompt_file(args.prompts)
    weights = provider.weights([p for _, p in rows])
    names = provider.objectives
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        for (rid, prompt), w in zip(rows, weights, strict=True):
            row: dict[str, object] = {"id": rid} if rid is not None else {}
            row.update(
                {"prompt": prompt, "weights": {n: round(float(x), 6) for n, x in zip(names, w, strict=True)}}
            )
            out.write(json.dumps(row) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.out:
        print(f"wrote {len(rows)} rows ({', '.join(names)}) to {args.out}", file=sys.stderr)
    return 0
