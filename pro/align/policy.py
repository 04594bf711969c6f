"""The policy: a causal LM with a locally built tokenizer, SFT initialisation, batched sampling, and its
artifact (model, tokenizer and the policy card ``policy.json``).

Prompts are shown to the policy as ``"{prompt} [SEP]"`` (the tokenizer adds ``[CLS]`` in front, exactly
as TRL's GRPO/RLOO tokenise prompts); completions end with ``[EOS]``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from pro.align.card import PolicyCard
from pro.errors import UserError
from pro.spec.align import PolicyAlignmentSpec
from pro.spec.model import ModelSource

SEP = "[SEP]"
#: the training curve an alignment stage writes next to the policy (read by the evaluation's plots)
HISTORY_FILE = "history.json"


def policy_prompt(prompt: str, prefix: str = "") -> str:
    """The text the policy sees for a user prompt (``prefix``: WIC weight tags)."""
    return f"{prefix}{prompt} {SEP}"


def build_policy(
    source: ModelSource, texts: Sequence[str], *, extra_tokens: Sequence[str] = ()
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM and its tokenizer: config-built (tokenizer built from ``texts``) or loaded by name (its
    weights in float32, the training master copy)."""
    from pro.models.backbone import build_config, load_tokenizer, model_location
    from pro.models.device import TRAINING_DTYPE

    tokenizer = load_tokenizer(source, [*texts, " ".join(extra_tokens)], max_length=1024)
    if source.config is not None:
        cfg = build_config(
            source,
            tokenizer,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model: PreTrainedModel = AutoModelForCausalLM.from_config(cfg)  # type: ignore[no-untyped-call]
    else:
        assert source.name is not None
        model = AutoModelForCausalLM.from_pretrained(
            model_location(source.name), revision=source.revision, dtype=TRAINING_DTYPE
        )
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def save_local(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, directory: str | Path) -> Path:
    """Save a policy on THIS process (transformers' ``save_pretrained`` writes on global rank 0 only once
    a process group exists; every torchrun rank needs its own copy of the starting policy)."""
    from safetensors.torch import save_model

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(d)
    model.generation_config.save_pretrained(d)
    save_model(model, str(d / "model.safetensors"))
    tokenizer.save_pretrained(d)
    return d


def save_policy(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, card: PolicyCard, directory: Path
) -> Path:
    """Write a policy artifact's model, tokenizer and card to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    card.write(directory)
    return directory


def load_policy(directory: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, PolicyCard | None]:
    """A saved policy directory: model (on this process's device in its inference dtype, eval mode),
    tokenizer and card (None when it has none)."""
    from pro.models.device import for_inference, inference_dtype

    d = Path(directory)
    if not (d / "config.json").exists():
        raise UserError(f"{d}: not a policy artifact (no config.json)")
    model = for_inference(AutoModelForCausalLM.from_pretrained(d, dtype=inference_dtype()))
    tokenizer = AutoTokenizer.from_pretrained(d)
    card = PolicyCard.read(d)
    return model, tokenizer, card


def encode_example(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, completion: str
) -> tuple[list[int], int]:
    """Token ids of prompt + completion + EOS, and the prompt's length (loss is on the rest)."""
    p_ids: list[int] = tokenizer(prompt_text)["input_ids"]
    c_ids: list[int] = tokenizer(completion, add_special_tokens=False)["input_ids"]
    return p_ids + c_ids + [int(tokenizer.eos_token_id)], len(p_ids)


def sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[tuple[str, str]],
    *,
    steps: int,
    learning_rate: float,
    batch_size: int,
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
) -> list[float]:
    """Completion-only SFT on ``(prompt_text, completion)`` pairs; returns the loss per step.

    With ``optimizer`` (kept by the caller across calls, e.g. WIC's online rounds) no schedule is applied
    and ``learning_rate`` is ignored; otherwise a fresh AdamW with warm-up and cosine decay.  The model is
    moved to this process's device (in place) and trained there, under bf16 autocast on a bf16 GPU."""
    from pro.models.device import autocast, to_training_device

    if not examples:
        raise UserError("SFT: no examples")
    device = to_training_device(model).device
    rng = random.Random(seed)
    encoded = [encode_example(tokenizer, p, c) for p, c in examples]
    pad = int(tokenizer.pad_token_id)
    opt = optimizer or torch.optim.AdamW(model.parameters(), lr=learning_rate)
    sched = None
    if optimizer is None:
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * 0.5 * (1 + math.cos(math.pi * s / steps))
        )
    model.train()
    losses: list[float] = []
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            more = list(range(len(encoded)))
            rng.shuffle(more)
            order += more
        idx, order = order[:batch_size], order[batch_size:]
        width = max(len(encoded[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        labels = torch.full((len(idx), width), -100, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq, plen = encoded[i]
            ids[row, : len(seq)] = torch.tensor(seq)
            labels[row, plen : len(seq)] = torch.tensor(seq[plen:])
            mask[row, : len(seq)] = 1
        with autocast(device):
            loss = model(
                input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)
            ).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss.item()))
    model.eval()  # type: ignore[no-untyped-call]
    return losses


def prepare_policy(
    spec: PolicyAlignmentSpec, work: Path, extra_texts: Sequence[str], prefix_tokens: Sequence[str] = ()
) -> tuple[Path, dict[str, float | int]]:
    """Build (and SFT-initialise on ``spec.init``) the starting policy; saved to ``work/init`` so TRL can
    rebuild the reference model from its path.  Deterministic per seed: every rank builds the same one."""
    from pro.data import read_prompts

    info: dict[str, float | int] = {}
    examples: list[tuple[str, str]] = []
    texts = list(extra_texts)
    if spec.init is not None:
        if not Path(spec.init.data).exists():
            raise UserError(f"init.data: {spec.init.data}: no such file")
        records = [r for r in read_prompts(spec.init.data) if r.completion]
        if not records:
            raise UserError(f"init.data: {spec.init.data}: no records with a completion")
        examples = [(policy_prompt(r.prompt), r.completion or "") for r in records]
        texts += [r.prompt for r in records] + [r.completion or "" for r in records]
    torch.manual_seed(spec.training.seed)
    model, tokenizer = build_policy(spec.policy, texts, extra_tokens=prefix_tokens)
    if spec.init is not None:
        t0 = time.perf_counter()
        losses = sft(
            model,
            tokenizer,
            examples,
            steps=spec.init.steps,
            learning_rate=spec.init.learning_rate,
            batch_size=spec.init.batch_size,
            seed=spec.training.seed,
        )
        info = {
            "initSteps": spec.init.steps,
            "initLoss": losses[-1],
            "initSeconds": round(time.perf_counter() - t0, 2),
        }
    return save_local(model, tokenizer, work / "init"), info


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt_texts: Sequence[str],
    *,
    temperature: float = 0.7,
    max_new_tokens: int = 64,
    batch_size: int = 64,
    seed: int = 0,
    top_p: float = 1.0,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """One completion per prompt text (greedy when ``temperature`` is 0), batched with left padding;
    ``on_batch`` is told how many completions each batch added (progress)."""
    out: list[str] = []
    torch.manual_seed(seed)
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    model.eval()  # type: ignore[no-untyped-call]
    try:
        with torch.inference_mode():
            for start in range(0, len(prompt_texts), batch_size):
                chunk = list(prompt_texts[start : start + batch_size])
                enc = tokenizer(chunk, return_tensors="pt", padding=True)
                kwargs: dict[str, object] = {"max_new_tokens": max_new_tokens}
                if temperature > 0:
                    kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
                else:
                    kwargs.update(do_sample=False)
                ids = model.generate(  # type: ignore[operator]
                    input_ids=enc["input_ids"].to(model.device),
                    attention_mask=enc["attention_mask"].to(model.device),
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                    **kwargs,
                )
                new = ids[:, enc["input_ids"].shape[1] :]
                out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
                if on_batch is not None:
                    on_batch(len(chunk))
    finally:
        tokenizer.padding_side = old_side
    return out


__all__ = [
    "HISTORY_FILE",
    "SEP",
    "build_policy",
    "encode_example",
    "generate",
    "load_policy",
    "policy_prompt",
    "prepare_policy",
    "save_local",
    "save_policy",
    "sft",
]
