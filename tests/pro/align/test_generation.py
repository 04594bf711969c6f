"""Sampling with a policy artifact: which weights a WIC or MORLHF policy gets, and what is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pro.errors import UserError
from pro.spec.align import PolicyAlignmentSpec, WeightSettings
from tests.pro.conftest import OBJECTIVES, TINY_POLICY

pytestmark = pytest.mark.ml

PROMPTS = ["how do i tune a guitar at home ?", "tell me a joke about pirates please ."]


def _policy(directory: Path, toy: dict[str, Any], *, method: str | None) -> str:
    """An untrained tiny policy saved as an artifact, with a card for ``method`` (None: no card)."""
    import torch

    from pro.align.card import PolicyCard
    from pro.align.policy import build_policy, save_local, save_policy
    from pro.align.wic import tag_vocabulary

    spec = PolicyAlignmentSpec.model_validate({
        "objectives": OBJECTIVES, "rewardModels": toy["rms"], "weights": {"mode": "uniform"},
        "policy": TINY_POLICY, "init": {"data": toy["sft"]}, "prompts": toy["prompts"], "output": str(directory),
        "method": method or "wic"})  # fmt: skip
    torch.manual_seed(0)
    model, tokenizer = build_policy(
        spec.policy, PROMPTS, extra_tokens=tag_vocabulary(spec.wic.template, OBJECTIVES)
    )
    if method is None:
        save_local(model, tokenizer, directory)
    else:
        save_policy(model, tokenizer, PolicyCard.of(spec, tau=0.1), directory)
    return str(directory)


def test_a_wic_policy_reads_the_weights_it_was_trained_with_unless_told(
    toy: dict[str, Any], tmp_path: Path
) -> None:
    from pro.align.generation import complete

    uri = _policy(tmp_path / "wic", toy, method="wic")
    done = complete(uri, PROMPTS, max_new_tokens=3)
    assert len(done.texts) == 2 and done.objectives == OBJECTIVES
    assert done.weights is not None and np.allclose(done.weights, 1 / 3)
    fixed = WeightSettings(mode="fixed", fixed={"helpfulness": 2, "harmlessness": 1, "humor": 1})
    told = complete(uri, PROMPTS, weights=fixed, max_new_tokens=3)
    assert told.weights is not None and np.allclose(told.weights[:, 0], 0.5)


def test_a_morlhf_policy_computes_weights_only_when_asked(toy: dict[str, Any], tmp_path: Path) -> None:
    from pro.align.generation import complete, generate_with_weights

    uri = _policy(tmp_path / "morlhf", toy, method="morlhf")
    assert complete(uri, PROMPTS, max_new_tokens=3).weights is None
    rows = generate_with_weights(uri, PROMPTS, uniform=True, max_new_tokens=3)
    assert set(rows[0]) == {"prompt", "weights", "completion"} and rows[0]["weights"]["humor"] == 0.3333


def test_weights_for_a_policy_without_a_card_are_a_user_error(toy: dict[str, Any], tmp_path: Path) -> None:
    from pro.align.generation import complete

    uri = _policy(tmp_path / "bare", toy, method=None)
    assert complete(uri, PROMPTS, max_new_tokens=3).weights is None
    with pytest.raises(UserError, match=r"no policy\.json"):
        complete(uri, PROMPTS, weights=WeightSettings(mode="uniform"), max_new_tokens=3)
