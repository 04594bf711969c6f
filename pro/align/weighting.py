"""``w(x)`` for an alignment or generation run: the provider behind ``weights.mode`` (adapter, uniform,
fixed, or the toy world's hidden truth), applied once to every prompt, batched, with the uniform floor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.spec.align import WeightSettings
from pro.weights import WeightProvider, make_provider


def weight_provider(settings: WeightSettings, objectives: Sequence[str]) -> WeightProvider:
    """The provider behind the ``weights.mode`` switch."""
    oracle: Callable[[str], Any] | None = None
    if settings.mode == "oracle":
        from pro.toy import World

        assert settings.world is not None
        oracle = World.load(settings.world).true_weights
    return make_provider(
        settings.mode,
        objectives=list(objectives),
        adapter=settings.adapter,
        fixed=settings.fixed,
        oracle=oracle,
    )


def compute_weights(
    settings: WeightSettings, objectives: Sequence[str], prompts: Sequence[str]
) -> np.ndarray:
    """w(x) for every prompt, once, batched; checked against the stage's objectives."""
    provider = weight_provider(settings, objectives)
    if list(provider.objectives) != list(objectives):
        raise UserError(
            f"weights ({settings.mode}) are over {provider.objectives}, the stage's objectives are {list(objectives)}"
        )
    w = np.asarray(provider.weights(list(prompts)), dtype=np.float32)
    if settings.floor > 0 and w.size:
        w = (1 - settings.floor) * w + settings.floor / w.shape[1]
    return w


__all__ = ["compute_weights", "weight_provider"]
