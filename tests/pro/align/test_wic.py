"""PRO-WIC's algorithm: weight tags, exploration, the offline targets' temperature, tokenizer checks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pro.errors import UserError
from pro.spec.align import WeightSettings
from tests.pro.conftest import OBJECTIVES


@pytest.mark.unit
def test_weight_tags_and_exploration() -> None:
    from pro.align.wic import explore, tag_vocabulary, weight_prefixes

    pre = weight_prefixes("<w:{objective}={weight:.1f}>", ["a", "b"], np.asarray([[0.74, 0.26]]))
    assert pre == ["<w:a=0.7> <w:b=0.3> "]
    assert len(tag_vocabulary("<{objective}:{weight:.2f}>", ["a"])) == 101
    w = explore(np.asarray([[1.0, 0.0]], dtype=np.float32), 0.5, np.random.default_rng(0))
    assert abs(w.sum() - 1) < 1e-6 and w[0, 0] >= 0.5


@pytest.mark.unit
def test_bad_template_is_a_user_error() -> None:
    from pro.align.wic import weight_prefixes

    with pytest.raises(UserError, match="wic template"):
        weight_prefixes("<{name}>", ["a"], np.asarray([[1.0]]))


@pytest.mark.ml
def test_tokenizer_without_tags_is_a_user_error() -> None:
    from pro.align.wic import check_tags
    from pro.models.tokenizers import build_tokenizer

    tok = build_tokenizer(["just some plain words"])
    with pytest.raises(UserError, match="cannot represent the weight tags"):
        check_tags(tok, "<w:{objective}={weight:.1f}>", ["helpfulness"])


@pytest.mark.ml
def test_target_tau_is_the_adapters_else_the_default(toy: dict[str, Any], tmp_path: Path) -> None:
    from pro.align.wic import DEFAULT_TAU, target_tau

    adapter = tmp_path / "adapter"
    shutil.copytree(toy["adapter"], adapter)
    meta = json.loads((adapter / "adapter.json").read_text())
    (adapter / "adapter.json").write_text(json.dumps({**meta, "tau": 0.3}))
    assert target_tau(WeightSettings(mode="adapter", adapter=str(adapter))) == 0.3
    assert target_tau(WeightSettings(mode="uniform")) == DEFAULT_TAU == 0.1


@pytest.mark.ml
def test_offline_examples_condition_each_response_on_its_own_targets(toy: dict[str, Any]) -> None:
    from pro.align.wic import offline_examples
    from pro.data import read_pairs
    from pro.weights.targets import RewardBank

    pairs = read_pairs(Path(toy["world"]) / "mixed.test.jsonl")[:6]
    bank = RewardBank.load(OBJECTIVES, toy["rms"])
    examples = offline_examples(bank, pairs, "<w:{objective}={weight:.2f}>", 0.1, rejected=True)
    assert [c for _, c in examples] == [p.chosen for p in pairs] + [p.rejected for p in pairs]
    for (text, _), pair in zip(examples, pairs + pairs, strict=True):
        tags = re.findall(r"<w:(\w+)=([0-9.]+)>", text)
        assert [o for o, _ in tags] == OBJECTIVES and text.endswith(f"{pair.prompt} [SEP]")
        assert abs(sum(float(w) for _, w in tags) - 1) <= 0.02  # rounded to two places
