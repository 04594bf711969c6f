"""Generation with a policy artifact: per-prompt weights (the adapter, a baseline, or what the policy was
trained with) written into the prompts of a WIC policy, then batched sampling.  ``pro generate`` and the
evaluation stage both sample through :func:`complete`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.spec.align import WeightSettings


@dataclass(frozen=True)
class Completions:
    """One completion per prompt, and the weights ``[N, K]`` over ``objectives`` when any were used or
    asked for."""

    texts: list[str]
    weights: np.ndarray | None
    objectives: list[str]


@dataclass(frozen=True)
class Decodings:
    """Greedy and sampled completions of one policy: ``greedy`` [N], ``sampled`` [S][N]."""

    greedy: list[str]
    sampled: list[list[str]]
    temperature: float | None
    """The sampling temperature used (None without samples)."""


class _Loaded:
    """A policy loaded once, with the prompt texts it sees (WIC: weight tags in front)."""

    def __init__(self, policy_uri: str, prompts: Sequence[str], weights: WeightSettings | None) -> None:
        from pro.align.policy import load_policy, policy_prompt
        from pro.align.weighting import compute_weights
        from pro.align.wic import weight_prefixes
        from pro.store import local_artifact

        self.model, self.tokenizer, card = load_policy(local_artifact(policy_uri, "config.json"))
        self.card = card
        settings = weights or (card.weights if card is not None and card.reads_weights else None)
        self.weights: np.ndarray | None = None
        if settings is not None:
            if card is None:
                raise UserError(f"{policy_uri}: no policy.json, so no objectives to weigh")
            self.weights = compute_weights(settings, card.objectives, prompts)
        prefixes = [""] * len(prompts)
        if card is not None and card.reads_weights:
            assert self.weights is not None and card.template is not None
            prefixes = weight_prefixes(card.template, card.objectives, self.weights)
        self.texts = [policy_prompt(p, x) for p, x in zip(prompts, prefixes, strict=True)]

    def generate(
        self, texts: Sequence[str], *, temperature: float, max_new_tokens: int, seed: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[str]:  # fmt: skip
        from pro.align.policy import generate

        return generate(self.model, self.tokenizer, texts, temperature=temperature, max_new_tokens=max_new_tokens,
                        seed=seed, on_batch=on_batch)  # fmt: skip


def complete(
    policy_uri: str,
    prompts: Sequence[str],
    *,
    weights: WeightSettings | None = None,
    temperature: float = 0.0,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> Completions:
    """Sample one completion per prompt.  A WIC policy reads ``weights`` (default: those it was trained
    with, from its card) from its prompt; for a MORLHF policy ``weights`` are only computed and returned."""
    p = _Loaded(policy_uri, prompts, weights)
    out = p.generate(p.texts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    return Completions(out, p.weights, p.card.objectives if p.card is not None else [])


#: the sampling temperature of a policy whose card does not record its training temperature
FALLBACK_TEMPERATURE = 0.7


def decode(
    policy_uri: str,
    prompts: Sequence[str],
    *,
    samples: int,
    temperature: float | None = None,
    weights: WeightSettings | None = None,
    max_new_tokens: int = 64,
    seed: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> Decodings:
    """Greedy completions and ``samples`` sampled completions per prompt, the policy loaded once and the
    samples generated in one batched pass; ``temperature`` defaults to the policy's training temperature
    (its card), else :data:`FALLBACK_TEMPERATURE`; ``on_batch``: how many completions each batch added."""
    p = _Loaded(policy_uri, prompts, weights)
    greedy = p.generate(p.texts, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed, on_batch=on_batch)
    if samples <= 0:
        return Decodings(greedy, [], None)
    t = temperature or (p.card.temperature if p.card is not None else None) or FALLBACK_TEMPERATURE
    flat = p.generate([x for _ in range(samples) for x in p.texts], temperature=t, max_new_tokens=max_new_tokens,
                      seed=seed + 1, on_batch=on_batch)  # fmt: skip
    n = len(p.texts)
    return Decodings(greedy, [flat[s * n : (s + 1) * n] for s in range(samples)], t)


def generate_with_weights(
    policy_uri: str,
    prompts: Sequence[str],
    *,
    adapter: str | None = None,
    uniform: bool = False,
    fixed: str | None = None,
    temperature: float = 0.0,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``{"prompt", "weights", "completion"}`` per prompt.  Without a weight option a WIC policy uses the
    weights it was trained with (its ``policy.json``); a MORLHF policy needs none."""
    from pro.weights import parse_fixed

    settings: WeightSettings | None = None
    if adapter:
        settings = WeightSettings(mode="adapter", adapter=adapter)
    elif uniform:
        settings = WeightSettings(mode="uniform")
    elif fixed:
        settings = WeightSettings(mode="fixed", fixed=parse_fixed(fixed))
    done = complete(
        policy_uri,
        prompts,
        weights=settings,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    out = []
    for i, (p, c) in enumerate(zip(prompts, done.texts, strict=True)):
        row: dict[str, Any] = {"prompt": p}
        if done.weights is not None:
            row["weights"] = {
                o: round(float(w), 4) for o, w in zip(done.objectives, done.weights[i], strict=True)
            }
        row["completion"] = c
        out.append(row)
    return out


__all__ = ["FALLBACK_TEMPERATURE", "Completions", "Decodings", "complete", "decode", "generate_with_weights"]
