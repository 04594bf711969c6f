"""The prompt adapter: an encoder backbone plus a head onto the K-simplex.

``w(x) = softmax(W · pool(encoder(x)) + b)``, trained with ``KL(w* ‖ w(x))``.  Artifact layout:
``backbone/`` and ``tokenizer/`` (``save_pretrained``), ``head.safetensors`` and ``adapter.json``
(objectives, tau, pooling, max length), plus ``metrics.json`` and ``stage.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from pro.models.batching import bucketed_apply

ADAPTER_FILE = "adapter.json"
HEAD_FILE = "head.safetensors"


class PromptAdapter(nn.Module):
    """Encoder + pooling + linear head → K logits; ``forward`` returns the KL loss when given targets."""

    def __init__(
        self, backbone: PreTrainedModel, num_objectives: int, *, pooling: str = "mean", dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        hidden = int(backbone.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_objectives)
        nn.init.zeros_(self.head.bias)
        nn.init.normal_(self.head.weight, std=0.02)

    @property
    def config(self) -> Any:  # lets transformers.Trainer read model.config
        return self.backbone.config

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            first: torch.Tensor = states[:, 0]
            return first
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled: torch.Tensor = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return pooled

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        targets: torch.Tensor | None = None,
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        logits = self.head(self.dropout(self.pool(input_ids, attention_mask)))
        out = {"logits": logits}
        if targets is not None:
            out["loss"] = kl_to_targets(logits, targets)
        return out


def kl_to_targets(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``KL(targets ‖ softmax(logits))``."""
    return F.kl_div(F.log_softmax(logits.float(), dim=-1), targets.float(), reduction="batchmean")


@dataclass(frozen=True)
class TargetCollator:
    """Training batches for :class:`PromptAdapter`: rows of ``input_ids`` and ``targets`` padded with
    ``pad_id`` into ``input_ids``, ``attention_mask`` and ``targets`` tensors."""

    pad_id: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
        targets = torch.tensor([r["targets"] for r in rows], dtype=torch.float)
        return {"input_ids": ids, "attention_mask": mask, "targets": targets}


class LoadedAdapter:
    """A trained adapter ready for inference: ``weights(prompts) -> [N, K]``."""

    def __init__(
        self,
        module: PromptAdapter,
        tokenizer: PreTrainedTokenizerBase,
        objectives: Sequence[str],
        *,
        tau: float,
        max_length: int = 256,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.module = module.eval()
        self.tokenizer = tokenizer
        self.objectives = list(objectives)
        self.tau = tau
        self.max_length = max_length
        self.info = info or {}

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.module(batch["input_ids"], batch["attention_mask"])["logits"]
        return torch.softmax(logits.float(), dim=-1)

    def weights(self, prompts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Per-prompt weights, batched and length-bucketed (rows sum to 1)."""
        if not prompts:
            return np.zeros((0, len(self.objectives)), dtype=np.float32)
        device = next(self.module.parameters()).device
        return bucketed_apply(
            self.tokenizer,
            prompts,
            self._forward,
            batch_size=batch_size,
            max_length=self.max_length,
            device=device,
        )

    def weights_one_by_one(self, prompts: Sequence[str]) -> np.ndarray:
        """The naive loop (one forward per prompt); the benchmark's baseline."""
        rows = []
        device = next(self.module.parameters()).device
        with torch.inference_mode():
            for p in prompts:
                enc = self.tokenizer(p, truncation=True, max_length=self.max_length, return_tensors="pt")
                batch = {k: enc[k].to(device) for k in ("input_ids", "attention_mask")}
                rows.append(self._forward(batch)[0].float().cpu().numpy())
        return np.stack(rows) if rows else np.zeros((0, len(self.objectives)), dtype=np.float32)

    def save(self, directory: str | Path) -> None:
        save_adapter(
            self.module,
            self.tokenizer,
            self.objectives,
            directory,
            tau=self.tau,
            max_length=self.max_length,
            extra=self.info,
        )

    @classmethod
    def load(cls, directory: str | Path) -> LoadedAdapter:
        """Load an adapter artifact directory onto this process's device, in its inference dtype."""
        from safetensors.torch import load_file

        from pro.models.device import for_inference

        d = Path(directory)
        meta = json.loads((d / ADAPTER_FILE).read_text())
        backbone = AutoModel.from_pretrained(d / "backbone")
        module = PromptAdapter(backbone, len(meta["objectives"]), pooling=meta.get("pooling", "mean"))
        module.head.load_state_dict(load_file(str(d / HEAD_FILE)))
        module = for_inference(module)
        tokenizer = AutoTokenizer.from_pretrained(d / "tokenizer")
        return cls(
            module,
            tokenizer,
            meta["objectives"],
            tau=float(meta["tau"]),
            max_length=int(meta.get("maxLength", 256)),
            info=meta,
        )


def save_adapter(
    module: PromptAdapter,
    tokenizer: PreTrainedTokenizerBase,
    objectives: Sequence[str],
    directory: str | Path,
    *,
    tau: float,
    max_length: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the adapter's artifact files (backbone, tokenizer, head, adapter.json) to ``directory``."""
    from safetensors.torch import save_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    module.backbone.save_pretrained(d / "backbone")
    tokenizer.save_pretrained(d / "tokenizer")
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()}, str(d / HEAD_FILE)
    )
    meta = dict(extra or {})
    meta.update(
        {
            "objectives": list(objectives),
            "tau": tau,
            "pooling": module.pooling,
            "hiddenSize": int(module.backbone.config.hidden_size),
            "maxLength": max_length,
        }
    )
    (d / ADAPTER_FILE).write_text(json.dumps(meta, indent=2) + "\n")
