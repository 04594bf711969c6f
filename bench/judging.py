"""Batched generation and judging vs a one-at-a-time loop (bar: ≥ 10×), on the toy world's held-out prompts.

    python bench/judging.py [--prompts 256] [--threads 2]

Three timings, each batched (the evaluation stage's path) and one prompt at a time, in the same run:
greedy generation with a demo-sized policy (llama 64 × 2, random weights: the cost is the same), the
pairwise judge (a causal LM reading AlpacaEval's ranking prompt, both orders), and a reward-model judge.
Prints a markdown table with the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-new-tokens", type=int, default=32)
    args = p.parse_args(argv)

    import torch

    from pro.align.policy import build_policy, generate, policy_prompt
    from pro.data import read_prompts
    from pro.eval.pairwise import PairwiseJudge
    from pro.models.reward import RewardScorer
    from pro.spec.model import ModelSource
    from pro.testing.judge_models import build_judge_lm
    from pro.toy import World
    from pro.toy.generate import generate as generate_world

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="pro-judging-"))
    generate_world(REPO / "examples" / "toy" / "world.yaml", work / "toy")
    world = World.load(work / "toy")
    prompts = [r.prompt for r in read_prompts(work / "toy" / "heldout.jsonl")][: args.prompts]
    vocab = [" ".join(world.vocabulary())]
    source = ModelSource.model_validate({"config": {"modelType": "llama", "hiddenSize": 64, "numHiddenLayers": 2,
        "numAttentionHeads": 4, "numKeyValueHeads": 4, "intermediateSize": 128, "maxPositionEmbeddings": 160},
        "tokenizer": {"build": {"kind": "wordlevel"}}})  # fmt: skip
    torch.manual_seed(0)
    model, tok = build_policy(source, vocab)
    texts = [policy_prompt(x) for x in prompts]
    rows = []

    def one_by_one() -> list[str]:
        return [
            t
            for x in texts
            for t in generate(model, tok, [x], temperature=0.0, max_new_tokens=args.max_new_tokens)
        ]

    batched, tb = timed(
        lambda: generate(model, tok, texts, temperature=0.0, max_new_tokens=args.max_new_tokens)
    )
    single, ts = timed(one_by_one)
    rows.append(("greedy generation (policy 64 × 2)", len(texts) / tb, len(texts) / ts))

    answers = [
        world.render(world.random_composition(__import__("random").Random(i))) for i in range(len(prompts))
    ]
    others = [
        world.render(world.random_composition(__import__("random").Random(10_000 + i)))
        for i in range(len(prompts))
    ]
    judge = PairwiseJudge.load(
        str(build_judge_lm(work / "judge", vocab, hidden=64, layers=2, vocab_size=8000)), None, batch_size=32
    )
    _, tb = timed(lambda: judge.wins(prompts, answers, others))
    _, ts = timed(lambda: (judge.preference_one_by_one(prompts, answers, others),
                           judge.preference_one_by_one(prompts, others, answers)))  # fmt: skip
    tokens = len(judge.tokenizer(judge.prompt_text(prompts[0], answers[0], others[0]))["input_ids"])
    rows.append((f"pairwise judge, both orders (causal LM 64 × 2, ≈ {tokens} tokens a prompt)", len(prompts) / tb,
                 len(prompts) / ts))  # fmt: skip

    from transformers import BertConfig, BertForSequenceClassification

    from pro.models.tokenizers import build_tokenizer

    rm_tok = build_tokenizer(vocab)
    cfg = BertConfig(vocab_size=len(rm_tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=160, num_labels=1, pad_token_id=rm_tok.pad_token_id)  # fmt: skip
    scorer = RewardScorer(BertForSequenceClassification(cfg).eval(), rm_tok, max_length=128)
    _, tb = timed(lambda: scorer.score(prompts, answers, batch_size=64))
    _, ts = timed(lambda: scorer.score_one_by_one(prompts, answers))
    rows.append(("reward-model judge (BERT 64 × 2)", len(prompts) / tb, len(prompts) / ts))

    assert len(batched) == len(single) == len(texts)
    print(
        f"{len(prompts)} held-out prompts, torch threads {args.threads}, {args.max_new_tokens} new tokens\n"
    )
    print("| what | batched prompts/s | one at a time prompts/s | ratio |\n|---|---|---|---|")
    for name, b, s in rows:
        print(f"| {name} | {b:,.1f} | {s:,.1f} | {b / s:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
