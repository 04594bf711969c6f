"""Length-bucketed batched inference: sort by length, run in batches, put results back in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase


def bucketed_apply(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    *,
    batch_size: int = 64,
    max_length: int = 512,
    device: torch.device | str = "cpu",
    add_special_tokens: bool = True,
) -> np.ndarray:
    """Tokenise ``texts`` once, batch them by length (little padding), run ``forward`` under
    ``torch.inference_mode`` and return its per-row outputs in the original order (float32).
    ``add_special_tokens=False`` for texts that carry their own (a rendered chat template)."""
    if not texts:
        return np.zeros((0,), dtype=np.float32)
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=False,
        add_special_tokens=add_special_tokens,
    )
    ids: list[list[int]] = enc["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            padded = tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
            batch: dict[str, torch.Tensor] = {k: v.to(device) for k, v in padded.items()}
            chunks.append(forward(batch).float().cpu().numpy())
    stacked = np.concatenate(chunks, axis=0)
    out = np.empty_like(stacked)
    out[order] = stacked
    return out
