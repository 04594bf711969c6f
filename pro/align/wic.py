"""PRO-WIC: weights written into the prompt as tokens, offline conditioned SFT, online rejection sampling.

Offline: each preference row's *chosen* response (and, with ``offlineRejected``, the rejected one too)
is paired with its own target weights ``w* = softmax(z(x, y) / tau)`` (z from the K reward models) and
the policy is SFT-ed on ``tags(w*) + prompt → y``.  Online, for ``onlineSteps`` rounds: sample prompts, take the weights of
``weights.mode`` (the adapter for PRO) mixed with exploration noise, sample ``numGenerations`` candidates
per prompt under those tags, score them with the K reward models, keep the best ``keepTop`` by combined
reward, and SFT on them.  At inference the tags carry the adapter's weights (``pro generate``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.spec.align import PolicyAlignment

DEFAULT_TEMPLATE = "<w:{objective}={weight:.1f}>"


def weight_prefixes(template: str, objectives: Sequence[str], weights: np.ndarray) -> list[str]:
    """One prompt prefix per row: the template formatted for every objective, space-separated."""
    out = []
    for row in np.asarray(weights):
        try:
            tags = [
                template.format(objective=o, weight=float(w)) for o, w in zip(objectives, row, strict=True)
            ]
        except (KeyError, IndexError, ValueError) as err:
            raise UserError(f"wic template {template!r}: {err}") from None
        out.append(" ".join(tags) + " ")
    return out


def tag_vocabulary(template: str, objectives: Sequence[str]) -> list[str]:
    """Texts covering every tag the template can produce on a 0.01 grid (for word-level vocabularies)."""
    grid = np.round(np.linspace(0, 1, 101), 2)
    return [" ".join(template.format(objective=o, weight=float(w)) for o in objectives) for w in grid]


def check_tags(tokenizer: Any, template: str, objectives: Sequence[str]) -> None:
    """The policy's tokenizer must represent every tag (a word-level vocabulary without them maps the
    tags to [UNK], and the policy could never read its weights)."""
    unk = tokenizer.unk_token_id
    if unk is None:
        return
    for text in tag_vocabulary(template, objectives)[::10]:
        if unk in tokenizer(text, add_special_tokens=False)["input_ids"]:
            raise UserError(
                f"wic: the policy's tokenizer cannot represent the weight tags (e.g. {text!r} has unknown "
                "tokens); use a config-built policy (its tokenizer is built with the tags) or a template "
                "in the tokenizer's vocabulary"
            )


def softmax_rows(z: np.ndarray, tau: float) -> np.ndarray:
    s = z / tau
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


def explore(weights: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """``(1 − eps) · w + eps · Dirichlet(1)`` per row."""
    if eps <= 0:
        return weights
    noise = rng.dirichlet(np.ones(weights.shape[1]), size=weights.shape[0]).astype(np.float32)
    mixed = (1 - eps) * weights + eps * noise
    return np.asarray(mixed / mixed.sum(axis=1, keepdims=True), dtype=np.float32)


def run(resource: PolicyAlignment) -> dict[str, Any]:
    """Offline SFT + online rejection sampling; commits the policy like the MORLHF stage does."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pro.align.policy import POLICY_FILE, generate, policy_prompt, sft
    from pro.align.rewards import RewardBank, combine
    from pro.stages import runtime
    from pro.stages.align import (
        HISTORY_FILE,
        KIND,
        compute_weights,
        load_world,
        prepare_policy,
        read_prompt_texts,
    )

    spec = resource.spec
    w_spec = spec.wic
    tr = spec.training
    started = time.perf_counter()
    env = runtime.setup(tr)
    if env.distributed:
        raise UserError(
            "method 'wic' runs in one process (rejection sampling is cheap); use morlhf for torchrun"
        )
    prompts = read_prompt_texts(spec.prompts, spec.max_prompts)
    weights = compute_weights(spec.weights, spec.objectives, prompts)
    bank = RewardBank.load(spec.objectives, spec.reward_models, batch_size=tr.eval_batch_size)
    judge = load_world(spec.world).utility if spec.world else None
    tau = 0.1
    if spec.weights.mode == "adapter" and spec.weights.adapter:
        from pro.weights import AdapterWeights

        tau = AdapterWeights(spec.weights.adapter).tau
    rng = np.random.default_rng(tr.seed)
    prng = random.Random(tr.seed)

    with runtime.work_dir("pro-wic-") as work:
        vocab_texts = tag_vocabulary(w_spec.template, spec.objectives)
        init_dir, info = prepare_policy(spec, work, prompts, prefix_tokens=vocab_texts)
        model = AutoModelForCausalLM.from_pretrained(init_dir)
        tokenizer = AutoTokenizer.from_pretrained(init_dir)
        check_tags(tokenizer, w_spec.template, spec.objectives)
        offline_rows = 0
        if w_spec.offline_data is not None and w_spec.offline_steps > 0:
            from pro.data import load_preferences

            pairs = load_preferences(w_spec.offline_data)
            if not pairs:
                raise UserError(f"wic.offlineData: {w_spec.offline_data.describe()}: no preference pairs")
            # every response conditioned on its own target weights (as RiC conditions on each response's
            # scores): the same prompt appears under different tags, so the tags carry information
            texts = [p.chosen for p in pairs] + (
                [p.rejected for p in pairs] if w_spec.offline_rejected else []
            )
            rows = pairs + (pairs if w_spec.offline_rejected else [])
            z = bank.z([p.prompt for p in rows], texts)
            targets = softmax_rows(z, tau)
            pre = weight_prefixes(w_spec.template, spec.objectives, targets)
            examples = [(policy_prompt(p.prompt, x), t) for p, x, t in zip(rows, pre, texts, strict=True)]
            sft(model, tokenizer, examples, steps=w_spec.offline_steps, learning_rate=tr.learning_rate,
                batch_size=tr.per_device_batch_size, seed=tr.seed)  # fmt: skip
            offline_rows = len(examples)
        history: list[dict[str, float]] = []
        g = spec.generation
        import torch

        online_opt = torch.optim.AdamW(model.parameters(), lr=w_spec.online_learning_rate)
        for step in range(1, w_spec.online_steps + 1):
            runtime.report_progress(step - 1, w_spec.online_steps)
            idx = [prng.randrange(len(prompts)) for _ in range(w_spec.prompts_per_round)]
            w = explore(weights[idx], w_spec.exploration, rng)
            pre = weight_prefixes(w_spec.template, spec.objectives, w)
            texts = [policy_prompt(prompts[i], x) for i, x in zip(idx, pre, strict=True)]
            rep_texts = [t for t in texts for _ in range(g.num_generations)]
            rep_raw = [prompts[i] for i in idx for _ in range(g.num_generations)]
            rep_w = np.repeat(w, g.num_generations, axis=0)
            cands = generate(model, tokenizer, rep_texts, temperature=g.temperature, max_new_tokens=g.max_new_tokens,
                             seed=tr.seed * 100_003 + step, top_p=g.top_p)  # fmt: skip
            zc = bank.z(rep_raw, cands)
            r = combine(rep_w, zc).reshape(len(idx), g.num_generations)
            keep: list[tuple[str, str]] = []
            for j in range(len(idx)):
                for c in np.argsort(-r[j])[: w_spec.keep_top]:
                    keep.append((rep_texts[j * g.num_generations + c], cands[j * g.num_generations + c]))
            sft(
                model,
                tokenizer,
                keep,
                steps=1,
                learning_rate=w_spec.online_learning_rate,
                batch_size=len(keep),
                seed=step,
                optimizer=online_opt,
            )
            row = {"step": float(step), "reward": float(r.mean()), "keptReward": float(r.max(axis=1).mean())}
            if judge is not None:
                row["trueUtility"] = float(
                    np.mean([judge(p, c) for p, c in zip(rep_raw, cands, strict=True)])
                )
            history.append(row)

        metrics: dict[str, Any] = {
            "method": "wic",
            "weightMode": spec.weights.mode,
            "steps": w_spec.online_steps,
            "offlineRows": offline_rows,
            "prompts": len(prompts),
            **info,
            "seconds": round(time.perf_counter() - started, 2),
        }
        if history:
            tail = history[-max(1, len(history) // 10) :]
            metrics["finalReward"] = float(np.mean([h["reward"] for h in tail]))
            if judge is not None:
                metrics["finalTrueUtility"] = float(np.mean([h["trueUtility"] for h in tail]))
        out = work / "artifact"
        out.mkdir()
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        meta = {
            "objectives": spec.objectives,
            "method": "wic",
            "weights": spec.weights.to_dict(),
            "template": w_spec.template,
            "tau": tau,
            "promptFormat": "{tags}{prompt} [SEP]",
        }
        (out / POLICY_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        (out / HISTORY_FILE).write_text(json.dumps(history) + "\n")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        runtime.commit(resource, out, spec.output, kind=KIND)
    return metrics


def read_policy_meta(directory: Path) -> dict[str, Any]:
    from pro.align.policy import POLICY_FILE

    p = directory / POLICY_FILE
    return dict(json.loads(p.read_text())) if p.exists() else {}


__all__ = [
    "DEFAULT_TEMPLATE",
    "explore",
    "read_policy_meta",
    "run",
    "softmax_rows",
    "tag_vocabulary",
    "weight_prefixes",
]
