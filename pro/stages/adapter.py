"""The adapter stage: targets from K reward models, then an encoder + simplex head trained with KL.

1. every rank fetches the K reward-model artifacts and scores the *chosen* response of every row of
   the mixed preference set (batched, length-bucketed), z-normalises per model and forms
   ``w* = softmax(z / tau)``;
2. the adapter (``AutoModel`` backbone + pooling + linear → K logits) is trained with
   ``KL(w* ‖ w(x))`` by ``transformers.Trainer`` (DDP/DeepSpeed under torchrun);
3. rank 0 evaluates (KL, argmax agreement, total variation on training and held-out rows) and commits
   backbone, tokenizer, head, ``adapter.json`` (objectives, tau), ``metrics.json`` and ``stage.yaml``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from pro.spec.stages import AdapterTraining
from pro.stages import runtime
from pro.stages.data import load_split

log = logging.getLogger(__name__)

KIND = "AdapterTraining"
METRICS_FILE = "metrics.json"


def weight_metrics(target: np.ndarray, pred: np.ndarray, prefix: str) -> dict[str, float]:
    """KL, total variation and argmax agreement of predicted vs target weights."""
    from pro.models.adapter import kl_rows

    if len(target) == 0:
        return {}
    return {
        f"{prefix}KL": float(np.mean(kl_rows(target, pred))),
        f"{prefix}TV": float(np.mean(0.5 * np.abs(target - pred).sum(axis=1))),
        f"{prefix}ArgmaxAgreement": float(np.mean(target.argmax(1) == pred.argmax(1))),
    }


def _by_category(
    categories: list[str | None], weights: np.ndarray, objectives: list[str]
) -> dict[str, dict[str, float]]:
    """Mean target per row category (rows without one are skipped)."""
    out: dict[str, dict[str, float]] = {}
    for cat in sorted({c for c in categories if c is not None}):
        rows = weights[[c == cat for c in categories]]
        out[cat] = {o: round(float(v), 4) for o, v in zip(objectives, rows.mean(0), strict=True)}
    return out


@dataclass
class _Collator:
    pad_id: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
        targets = torch.tensor([r["targets"] for r in rows], dtype=torch.float)
        return {"input_ids": ids, "attention_mask": mask, "targets": targets}


def run(resource: AdapterTraining) -> dict[str, Any]:
    """Compute targets, train, evaluate and commit the adapter; returns the metrics (on every rank)."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from pro.models.adapter import LoadedAdapter, PromptAdapter, save_adapter
    from pro.models.backbone import load_backbone, load_tokenizer
    from pro.models.reward import RewardScorer
    from pro.stages.targets import entropy, target_weights

    spec = resource.spec
    tr = spec.training
    started = time.perf_counter()
    env = runtime.setup(tr)

    train, held = load_split(spec.data, spec.eval_data, tr.eval_fraction, tr.seed)
    scorers = [RewardScorer.load(runtime.fetch(spec.reward_models[o])) for o in spec.objectives]
    bs = tr.eval_batch_size
    t_train = target_weights(
        scorers,
        spec.objectives,
        [p.prompt for p in train],
        [p.chosen for p in train],
        tau=spec.tau,
        batch_size=bs,
        normalization=spec.target_normalization,
    )
    t_held = target_weights(
        scorers,
        spec.objectives,
        [p.prompt for p in held],
        [p.chosen for p in held],
        tau=spec.tau,
        batch_size=bs,
        normalizer=t_train.normalizer,
    )
    del scorers
    targets_seconds = round(time.perf_counter() - started, 2)

    prompts = [p.prompt for p in train]
    tokenizer = load_tokenizer(spec.model, prompts, max_length=tr.max_length)
    backbone = load_backbone(spec.model, tokenizer, "encoder")
    module = PromptAdapter(
        backbone, len(spec.objectives), pooling=spec.head.pooling, dropout=spec.head.dropout
    )
    enc = tokenizer(prompts, truncation=True, max_length=tr.max_length)
    dataset = Dataset.from_dict(
        {"input_ids": enc["input_ids"], "targets": t_train.weights.astype(np.float32).tolist()}
    )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    with runtime.work_dir("pro-adapter-") as work:
        args = TrainingArguments(
            **runtime.training_arguments_kwargs(tr, work / "trainer", spec.deepspeed),
            remove_unused_columns=False,
            label_names=[],
        )
        trainer = Trainer(
            model=module,
            args=args,
            train_dataset=dataset,
            data_collator=_Collator(pad_id),
            callbacks=[runtime.progress_callback()],
        )
        result = trainer.train()
        zero3 = spec.deepspeed is not None and spec.deepspeed.stage == 3
        state = trainer.accelerator.get_state_dict(trainer.deepspeed) if zero3 else None

        metrics: dict[str, Any] = {}
        if env.is_main:
            trained = trainer.accelerator.unwrap_model(trainer.model)
            if state is not None:
                trained.load_state_dict(state, strict=False)
            trained = trained.float().eval()
            adapter = LoadedAdapter(
                trained, tokenizer, spec.objectives, tau=spec.tau, max_length=tr.max_length
            )
            p_train = adapter.weights(prompts, batch_size=bs)
            p_held = adapter.weights([p.prompt for p in held], batch_size=bs)
            metrics = {
                "objectives": spec.objectives,
                "tau": spec.tau,
                "targetNormalization": spec.target_normalization,
                "targetStatistics": t_train.normalizer.to_dict(spec.objectives),
                "trainRows": len(train),
                "heldoutRows": len(held),
                **weight_metrics(t_train.weights, p_train, "train"),
                **weight_metrics(t_held.weights, p_held, "heldout"),
                "targetEntropy": float(np.mean(entropy(t_train.weights))),
                "predictedEntropy": float(np.mean(entropy(p_train))) if len(p_train) else float("nan"),
                "meanTarget": dict(
                    zip(spec.objectives, t_train.weights.mean(0).round(4).tolist(), strict=True)
                ),
                "meanTargetByCategory": _by_category(
                    [p.category for p in train], t_train.weights, spec.objectives
                ),
                "steps": tr.max_steps,
                "trainLoss": float(result.training_loss),
                "worldSize": env.world_size,
                "targetsSeconds": targets_seconds,
                "seconds": round(time.perf_counter() - started, 2),
            }
            out = work / "artifact"
            save_adapter(trained, tokenizer, spec.objectives, out, tau=spec.tau, max_length=tr.max_length)
            (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
            runtime.commit(resource, out, spec.output, kind=KIND)
            log.info("adapter: %s", metrics)
        runtime.barrier(env)
        metrics = runtime.broadcast_object(env, metrics)
    return metrics


__all__ = ["KIND", "run", "weight_metrics"]
