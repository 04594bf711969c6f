"""Generation with a policy artifact: per-prompt weights (the adapter, a baseline, or what the policy was
trained with) written into the prompts of a WIC policy, then batched sampling.  ``pro generate`` and the
evaluation stage both sample through :func:`complete`."""

from __future__ import annotations

from collections.abc import Sequence
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
    from pro.align.policy import generate, load_policy, policy_prompt
    from pro.align.weighting import compute_weights
    from pro.align.wic import weight_prefixes
    from pro.store import local_artifact

    model, tokenizer, card = load_policy(local_artifact(policy_uri, "config.json"))
    settings = weights or (card.weights if card is not None and card.reads_weights else None)
    w: np.ndarray | None = None
    if settings is not None:
        if card is None:
            raise UserError(f"{policy_uri}: no policy.json, so no objectives to weigh")
        w = compute_weights(settings, card.objectives, prompts)
    prefixes = [""] * len(prompts)
    if card is not None and card.reads_weights:
        assert w is not None and card.template is not None
        prefixes = weight_prefixes(card.template, card.objectives, w)
    texts = [policy_prompt(p, x) for p, x in zip(prompts, prefixes, strict=True)]
    out = generate(model, tokenizer, texts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    return Completions(out, w, card.objectives if card is not None else [])


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


__all__ = ["Completions", "complete", "generate_with_weights"]
