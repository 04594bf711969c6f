"""Generation at deployment: a policy artifact plus per-prompt weights (adapter, uniform or fixed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pro.errors import UserError


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
    from pro.align.policy import generate, load_policy, policy_prompt
    from pro.align.wic import weight_prefixes
    from pro.spec.align import WeightSettings
    from pro.stages.align import compute_weights
    from pro.stages.evaluate import local_artifact
    from pro.weights import parse_fixed

    model, tokenizer, meta = load_policy(local_artifact(policy_uri))
    objectives = [str(o) for o in meta.get("objectives", [])]  # type: ignore[attr-defined]
    settings: WeightSettings | None = None
    if adapter:
        settings = WeightSettings(mode="adapter", adapter=adapter)
    elif uniform:
        settings = WeightSettings(mode="uniform")
    elif fixed:
        settings = WeightSettings(mode="fixed", fixed=parse_fixed(fixed))
    elif meta.get("method") == "wic":
        settings = WeightSettings.model_validate(meta["weights"])
    weights: np.ndarray | None = None
    if settings is not None:
        if not objectives:
            raise UserError(f"{policy_uri}: policy.json names no objectives")
        weights = compute_weights(settings, objectives, prompts)
    prefixes = [""] * len(prompts)
    if meta.get("method") == "wic":
        assert weights is not None
        prefixes = weight_prefixes(str(meta.get("template")), objectives, weights)
    texts = [policy_prompt(p, x) for p, x in zip(prompts, prefixes, strict=True)]
    completions = generate(
        model, tokenizer, texts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
    )
    out = []
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        row: dict[str, Any] = {"prompt": p}
        if weights is not None:
            row["weights"] = {o: round(float(w), 4) for o, w in zip(objectives, weights[i], strict=True)}
        row["completion"] = c
        out.append(row)
    return out


__all__ = ["generate_with_weights"]
