"""How a reward model sees (prompt, response): the tokenizer's separator when it has one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_separator_follows_the_tokenizer() -> None:
    from transformers import PreTrainedTokenizerFast

    from pro.models.reward import join_text, separator
    from pro.models.tokenizers import build_tokenizer
    from pro.spec.model import TokenizerBuild

    tok = build_tokenizer(["how do i tie a knot", "step one : loop"], TokenizerBuild(), max_length=32)
    assert separator(tok) == f" {tok.sep_token} "
    ids = tok(join_text("how do i", "step one", separator(tok)))["input_ids"]
    assert tok.convert_tokens_to_ids(tok.sep_token) in ids  # the boundary survives tokenisation
    no_sep = PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer)
    assert separator(no_sep) == "\n\n"
