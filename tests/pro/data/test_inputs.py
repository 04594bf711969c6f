"""What a stage reads: the deterministic split by prompt and the distinct prompts of a prompt file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pro.data.inputs import read_prompt_texts, split_by_prompt
from pro.data.schema import PreferencePair
from pro.errors import UserError

pytestmark = pytest.mark.unit


def test_split_by_prompt_is_deterministic_and_grouped() -> None:
    pairs = [PreferencePair(f"p{i % 50}", "a", "b", "o") for i in range(200)]
    train, held = split_by_prompt(pairs, 0.2, seed=1)
    assert len(train) + len(held) == 200 and held
    assert not {p.prompt for p in train} & {p.prompt for p in held}
    assert split_by_prompt(pairs, 0.2, seed=1) == (train, held)
    assert split_by_prompt(pairs, 0.0, seed=1) == (pairs, [])


def test_missing_or_empty_prompt_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_prompt_texts(str(tmp_path / "none.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no prompts"):
        read_prompt_texts(str(empty))


def test_prompts_are_deduplicated_and_limited(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ["a", "b", "a", "c"]))
    assert read_prompt_texts(str(f)) == ["a", "b", "c"] and read_prompt_texts(str(f), 2) == ["a", "b"]
