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

import logging
import time
from typing import Any

import numpy as np

from pro.data.inputs import load_split
from pro.spec.stages import AdapterTraining
from pro.stages import runtime

log = logging.getLogger(__name__)


def run(resource: AdapterTraining) -> dict[str, Any]:
    """Compute targets, train, evaluate and commit the adapter; returns the metrics (on every rank)."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from pro.models.adapter import LoadedAdapter, PromptAdapter, TargetCollator, save_adapter
    from pro.models.backbone import load_backbone, load_tokenizer
    from pro.models.reward import RewardScorer
    from pro.models.training import training_arguments_kwargs
    from pro.weights.targets import entropy, mean_by_category, target_weights, weight_metrics

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
            **training_arguments_kwargs(tr, work / "trainer", spec.deepspeed),
            remove_unused_columns=False,
            label_names=[],
        )
        trainer = Trainer(
            model=module,
            args=args,
            train_dataset=dataset,
            data_collator=TargetCollator(pad_id),
            callbacks=[runtime.progress_callback()],
        )
        result = runtime.metric_lines(trainer).train()
        trained = runtime.trained_model(trainer, env, deepspeed=spec.deepspeed, lora=None)

        metrics: dict[str, Any] = {}
        if env.is_main:
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
                "meanTargetByCategory": mean_by_category(
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
            runtime.write_metrics(out, metrics)
            runtime.commit(resource, out, spec.output)
            log.info("adapter: %s", metrics)
        runtime.barrier(env)
        metrics = runtime.broadcast_object(env, metrics)
    return metrics


__all__ = ["run"]
