"""Tokenizers built locally from training texts (no hub access): WordLevel or byte-level BPE.

The result is a ``PreTrainedTokenizerFast`` with ``[PAD] [UNK] [CLS] [SEP] [EOS]`` special tokens; every
encoding starts with ``[CLS]`` so CLS-pooling encoders (BERT-style classification heads) work.
"""

from __future__ import annotations

from collections.abc import Iterable

from transformers import PreTrainedTokenizerFast

from pro.spec.model import TokenizerBuild

PAD, UNK, CLS, SEP, EOS = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[EOS]"
SPECIALS = [PAD, UNK, CLS, SEP, EOS]


def build_tokenizer(
    texts: Iterable[str], settings: TokenizerBuild | None = None, *, max_length: int = 512
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on ``texts`` per ``settings`` (default: lower-cased WordLevel)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    settings = settings or TokenizerBuild()
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if settings.lowercase else [])
    if settings.kind == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer: trainers.Trainer = trainers.WordLevelTrainer(
            vocab_size=settings.vocab_size, special_tokens=SPECIALS, min_frequency=1
        )
    else:
        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=settings.vocab_size,
            special_tokens=SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    tok.normalizer = normalizers.Sequence(norm)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A",
        pair=f"{CLS} $A {SEP} $B",
        special_tokens=[(CLS, tok.token_to_id(CLS)), (SEP, tok.token_to_id(SEP))],
    )
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        pad_token=PAD,
        unk_token=UNK,
        cls_token=CLS,
        sep_token=SEP,
        eos_token=EOS,
        model_max_length=max_length,
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )
