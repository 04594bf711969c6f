"""Backbones and tokenizers from a :class:`~pro.spec.model.ModelSource`.

``name`` loads a pretrained model (hub id or local directory) with ``from_pretrained``; ``config``
builds a freshly initialised model from a transformers config (tiny models for tests and the toy world).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pro.errors import UserError
from pro.models.device import TRAINING_DTYPE
from pro.models.tokenizers import build_tokenizer
from pro.spec.model import ModelSource

Head = Literal["sequence-classification", "encoder"]


def snake_case(key: str) -> str:
    """``hiddenSize`` → ``hidden_size`` (snake_case keys are left alone)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def config_kwargs(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split a spec config into the model type and transformers keyword arguments."""
    kwargs = {snake_case(k): v for k, v in config.items()}
    model_type = str(kwargs.pop("model_type"))
    return model_type, kwargs


def model_location(name: str) -> str:
    """Where ``from_pretrained`` finds ``name``: a policy or model artifact in the store (``s3://``,
    ``file://``) is fetched and verified first; a hub id or a local directory is used as it is.  A name
    written as a path (``/…``, ``./…``, ``../…``) that is not a directory is a permanent user error, not
    a hub lookup that fails with transformers' "Repo id must be in the form …"."""
    if name.startswith(("s3://", "file://")):
        from pro.store import local_artifact

        return str(local_artifact(name, "config.json"))
    if name.startswith(("/", "./", "../")) and not Path(name).is_dir():
        raise UserError(
            f"{name}: no such model directory (a hub id is written org/name, without a slash first)"
        )
    return name


def load_tokenizer(
    source: ModelSource, texts: Iterable[str] = (), *, max_length: int = 512
) -> PreTrainedTokenizerBase:
    """The source's tokenizer: built from ``texts``, or loaded by name (the tokenizer's, else the model's)."""
    tok_source = source.tokenizer
    if tok_source is not None and tok_source.build is not None:
        return build_tokenizer(texts, tok_source.build, max_length=max_length)
    name = tok_source.name if tok_source is not None and tok_source.name else source.name
    assert name is not None  # the spec validator guarantees a name here
    tok: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(
        model_location(name), revision=source.revision
    )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def build_config(source: ModelSource, tokenizer: PreTrainedTokenizerBase, **extra: Any) -> PretrainedConfig:
    """A transformers config for a config-built model, sized to the tokenizer."""
    assert source.config is not None
    model_type, kwargs = config_kwargs(source.config)
    kwargs.setdefault("vocab_size", len(tokenizer))
    if tokenizer.pad_token_id is not None:
        kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    kwargs.update(extra)
    return AutoConfig.for_model(model_type, **kwargs)


def load_backbone(source: ModelSource, tokenizer: PreTrainedTokenizerBase, head: Head) -> PreTrainedModel:
    """A sequence-classification model with one output (reward model) or a bare encoder (adapter), its
    weights in float32 (the training master copy, whatever the checkpoint's dtype)."""
    if source.config is not None:
        if head == "sequence-classification":
            cfg = build_config(source, tokenizer, num_labels=1)
            model: PreTrainedModel = AutoModelForSequenceClassification.from_config(cfg)  # type: ignore[no-untyped-call]
        else:
            model = AutoModel.from_config(build_config(source, tokenizer))  # type: ignore[no-untyped-call]
        return model
    assert source.name is not None
    if head == "sequence-classification":
        model = AutoModelForSequenceClassification.from_pretrained(
            model_location(source.name), revision=source.revision, num_labels=1, dtype=TRAINING_DTYPE
        )
    else:
        model = AutoModel.from_pretrained(
            model_location(source.name), revision=source.revision, dtype=TRAINING_DTYPE
        )
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model
