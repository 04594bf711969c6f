"""PRO-WIC: weights written into the prompt as tokens, offline conditioned SFT, online rejection sampling.

Offline: each preference row's *chosen* response (and, with ``offlineRejected``, the rejected one too)
is paired with its own target weights ``w* = softmax(z(x, y) / tau)`` (z from the K reward models) and
the policy is SFT-ed on ``tags(w*) + prompt → y``.  Online, for ``onlineSteps`` rounds: sample prompts, take the weights of
``weights.mode`` (the adapter for PRO) mixed with exploration noise, sample ``numGenerations`` candidates
per prompt under those tags, score them with the K reward models, keep the best ``keepTop`` by combined
reward, and SFT on them.  At inference the tags carry the adapter's weights (``pro generate``).
The stage around these steps is :mod:`pro.stages.wic`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pro.data import PreferencePair
from pro.errors import UserError
from pro.spec.align import PolicyAlignmentSpec, WeightSettings
from pro.weights.targets import RewardBank, softmax_tau

#: the target temperature when the weights do not come from an adapter (which records its own)
DEFAULT_TAU = 0.1


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


def explore(weights: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """``(1 − eps) · w + eps · Dirichlet(1)`` per row."""
    if eps <= 0:
        return weights
    noise = rng.dirichlet(np.ones(weights.shape[1]), size=weights.shape[0]).astype(np.float32)
    mixed = (1 - eps) * weights + eps * noise
    return np.asarray(mixed / mixed.sum(axis=1, keepdims=True), dtype=np.float32)


def target_tau(settings: WeightSettings) -> float:
    """The temperature of the offline targets: the adapter's own (PRO), else :data:`DEFAULT_TAU`."""
    if settings.mode == "adapter" and settings.adapter:
        from pro.weights import AdapterWeights

        return AdapterWeights(settings.adapter).tau
    return DEFAULT_TAU


def offline_examples(
    bank: RewardBank,
    pairs: Sequence[PreferencePair],
    template: str,
    tau: float,
    *,
    rejected: bool = False,
) -> list[tuple[str, str]]:
    """``(tags(w*) + prompt, response)`` for every chosen response (and every rejected one too), each
    conditioned on its own target weights ``w* = softmax(z(x, y) / tau)``: as RiC conditions on each
    response's scores, the same prompt appears under different tags, so the tags carry information."""
    from pro.align.policy import policy_prompt

    texts = [p.chosen for p in pairs] + ([p.rejected for p in pairs] if rejected else [])
    rows = list(pairs) + (list(pairs) if rejected else [])
    z = bank.z([p.prompt for p in rows], texts)
    pre = weight_prefixes(template, bank.objectives, softmax_tau(z, tau))
    return [(policy_prompt(p.prompt, x), t) for p, x, t in zip(rows, pre, texts, strict=True)]


def rejection_sampling(
    model: Any,
    tokenizer: Any,
    bank: RewardBank,
    prompts: Sequence[str],
    weights: np.ndarray,
    *,
    spec: PolicyAlignmentSpec,
    judge: Callable[[str, str], float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, float]]:
    """The online rounds (``spec.wic.onlineSteps``): sample prompts, explore around their weights,
    generate candidates under those tags, keep the best by combined reward, one SFT step on them.
    Returns one history row per round (mean and kept reward, true utility with ``judge``)."""
    import torch

    from pro.align.policy import generate, policy_prompt, sft
    from pro.align.rewards import combine

    w_spec, g, seed = spec.wic, spec.generation, spec.training.seed
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    history: list[dict[str, float]] = []
    online_opt = torch.optim.AdamW(model.parameters(), lr=w_spec.online_learning_rate)
    for step in range(1, w_spec.online_steps + 1):
        if progress is not None:
            progress(step - 1, w_spec.online_steps)
        idx = [prng.randrange(len(prompts)) for _ in range(w_spec.prompts_per_round)]
        w = explore(weights[idx], w_spec.exploration, rng)
        pre = weight_prefixes(w_spec.template, spec.objectives, w)
        texts = [policy_prompt(prompts[i], x) for i, x in zip(idx, pre, strict=True)]
        rep_texts = [t for t in texts for _ in range(g.num_generations)]
        rep_raw = [prompts[i] for i in idx for _ in range(g.num_generations)]
        rep_w = np.repeat(w, g.num_generations, axis=0)
        cands = generate(model, tokenizer, rep_texts, temperature=g.temperature, max_new_tokens=g.max_new_tokens,
                         seed=seed * 100_003 + step, top_p=g.top_p)  # fmt: skip
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
            row["trueUtility"] = float(np.mean([judge(p, c) for p, c in zip(rep_raw, cands, strict=True)]))
        history.append(row)
    return history


__all__ = [
    "DEFAULT_TAU",
    "check_tags",
    "explore",
    "offline_examples",
    "rejection_sampling",
    "tag_vocabulary",
    "target_tau",
    "weight_prefixes",
]
