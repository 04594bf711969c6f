"""The policy card (``policy.json``): one typed model, written as before, older artifacts still readable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pro.align.card import POLICY_FILE, PolicyCard
from pro.errors import UserError
from pro.spec.align import PolicyAlignmentSpec

pytestmark = pytest.mark.unit

OBJ = ["helpfulness", "harmlessness"]
#: what the MORLHF stage wrote before the card was a model (stages/align.py)
OLD_MORLHF = {
    "objectives": OBJ,
    "method": "morlhf",
    "weights": {"mode": "adapter", "floor": 0.2, "adapter": "s3://b/run/adapter"},
    "promptFormat": "{prompt} [SEP]",
}
#: what the WIC stage wrote before (align/wic.py): MORLHF's keys plus the template and tau
OLD_WIC = {
    "objectives": OBJ,
    "method": "wic",
    "weights": {"mode": "uniform", "floor": 0.0},
    "template": "<w:{objective}={weight:.1f}>",
    "tau": 0.1,
    "promptFormat": "{tags}{prompt} [SEP]",
}


def _spec(**over: Any) -> PolicyAlignmentSpec:
    doc: dict[str, Any] = {
        "objectives": OBJ,
        "rewardModels": {o: f"s3://b/rm-{o}" for o in OBJ},
        "weights": {"mode": "adapter", "adapter": "s3://b/run/adapter", "floor": 0.2},
        "policy": {"name": "some/policy"},
        "prompts": "p.jsonl",
        "output": "s3://b/policy",
    }
    return PolicyAlignmentSpec.model_validate(doc | over)


@pytest.mark.parametrize("old", [OLD_MORLHF, OLD_WIC], ids=["morlhf", "wic"])
def test_both_old_key_sets_read_typed(tmp_path: Path, old: dict[str, Any]) -> None:
    (tmp_path / POLICY_FILE).write_text(json.dumps(old, indent=2) + "\n")
    card = PolicyCard.read(tmp_path)
    assert card is not None and card.objectives == OBJ and card.method == old["method"]
    assert card.weights.mode == old["weights"]["mode"] and card.weights.floor == old["weights"]["floor"]
    assert card.reads_weights == (old["method"] == "wic")
    assert (card.template, card.tau) == (old.get("template"), old.get("tau"))


def test_the_stages_write_the_files_of_before_and_the_training_temperature(tmp_path: Path) -> None:
    """The old keys, unchanged, then the temperature the policy sampled at in training (an evaluation
    samples at it; a card without it reads as before)."""
    morlhf = PolicyCard.of(_spec())
    morlhf.write(tmp_path)
    assert (tmp_path / POLICY_FILE).read_text() == json.dumps(
        {**OLD_MORLHF, "temperature": 0.7}, indent=2
    ) + "\n"
    wic = PolicyCard.of(_spec(method="wic", weights={"mode": "uniform"}), tau=0.1)
    wic.write(tmp_path)
    assert (tmp_path / POLICY_FILE).read_text() == json.dumps(
        {**OLD_WIC, "temperature": 0.7}, indent=2
    ) + "\n"
    assert PolicyCard.read(tmp_path) == wic
    (tmp_path / POLICY_FILE).write_text(json.dumps(OLD_WIC))
    old = PolicyCard.read(tmp_path)
    assert old is not None and old.temperature is None


def test_no_card_is_none_and_a_bad_one_names_file_and_field(tmp_path: Path) -> None:
    assert PolicyCard.read(tmp_path) is None
    (tmp_path / POLICY_FILE).write_text(json.dumps({**OLD_MORLHF, "objectives": []}))
    with pytest.raises(UserError, match=r"policy\.json: not a policy card: objectives: "):
        PolicyCard.read(tmp_path)
    (tmp_path / POLICY_FILE).write_text(json.dumps({k: v for k, v in OLD_WIC.items() if k != "template"}))
    with pytest.raises(UserError, match="a WIC policy needs 'template'"):
        PolicyCard.read(tmp_path)
    (tmp_path / POLICY_FILE).write_text("{not json")
    with pytest.raises(UserError, match="not a policy card"):
        PolicyCard.read(tmp_path)


def test_fields_added_by_a_newer_writer_are_ignored(tmp_path: Path) -> None:
    (tmp_path / POLICY_FILE).write_text(json.dumps({**OLD_MORLHF, "algorithm": "grpo"}))
    card = PolicyCard.read(tmp_path)
    assert card is not None and card.method == "morlhf"
