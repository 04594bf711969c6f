"""The reward-model stage: TRL ``RewardTrainer`` on one objective's pairs, committed as an artifact.

Artifact: model + tokenizer (``save_pretrained``; LoRA adapters merged), ``stats.json`` (mean/std of
scores over the training pairs' chosen and rejected responses, for z-normalisation), ``metrics.json``
(pairwise accuracy on the held-out and training pairs) and ``stage.yaml``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np

from pro.data.inputs import load_split
from pro.spec.stages import RewardModelTraining
from pro.stages import runtime

log = logging.getLogger(__name__)


def run(resource: RewardModelTraining) -> dict[str, Any]:
    """Train, evaluate and commit one reward model; returns the metrics (on every rank)."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer  # type: ignore[attr-defined]

    from pro.models.backbone import load_backbone, load_tokenizer
    from pro.models.reward import STATS_FILE, RewardScorer, ScoreStats, accuracy, join_text, separator
    from pro.models.training import lora_config, training_arguments_kwargs

    spec = resource.spec
    tr = spec.training
    started = time.perf_counter()
    env = runtime.setup(tr)

    train, held = load_split(spec.data, spec.eval_data, tr.eval_fraction, tr.seed, objective=spec.objective)
    texts = [t for p in train for t in (p.prompt, p.chosen, p.rejected)]
    tokenizer = load_tokenizer(spec.model, texts, max_length=tr.max_length)
    model = load_backbone(spec.model, tokenizer, "sequence-classification")
    sep = separator(tokenizer)
    dataset = Dataset.from_dict(
        {
            "chosen": [join_text(p.prompt, p.chosen, sep) for p in train],
            "rejected": [join_text(p.prompt, p.rejected, sep) for p in train],
        }
    )
    peft_config = lora_config(spec.lora, "SEQ_CLS")

    with runtime.work_dir("pro-rm-") as work:
        args = RewardConfig(
            **training_arguments_kwargs(tr, work / "trainer", spec.deepspeed),
            max_length=tr.max_length,
            dataset_num_proc=None,
            center_rewards_coefficient=tr.center_rewards_coefficient,
        )
        trainer = RewardTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[runtime.progress_callback()],
        )
        result = runtime.metric_lines(trainer).train()
        trained = runtime.trained_model(trainer, env, deepspeed=spec.deepspeed, lora=spec.lora)

        metrics: dict[str, Any] = {}
        if env.is_main:
            scorer = RewardScorer(trained, tokenizer, objective=spec.objective, max_length=tr.max_length)
            bs = tr.eval_batch_size
            prompts = [p.prompt for p in train]
            # the training pairs scored once: their scores are the reference set and the training accuracy
            chosen = scorer.score(prompts, [p.chosen for p in train], batch_size=bs)
            rejected = scorer.score(prompts, [p.rejected for p in train], batch_size=bs)
            stats = ScoreStats.of(np.concatenate([chosen, rejected]))
            metrics = {
                "objective": spec.objective,
                "heldoutAccuracy": scorer.pairwise_accuracy(
                    [p.prompt for p in held],
                    [p.chosen for p in held],
                    [p.rejected for p in held],
                    batch_size=bs,
                ),
                "trainAccuracy": accuracy(chosen, rejected),
                "heldoutPairs": len(held),
                "trainPairs": len(train),
                "steps": tr.max_steps,
                "trainLoss": float(result.training_loss),
                "worldSize": env.world_size,
                "seconds": round(time.perf_counter() - started, 2),
            }
            out = work / "artifact"
            out.mkdir()
            trained.save_pretrained(out)
            tokenizer.save_pretrained(out)
            (out / STATS_FILE).write_text(
                json.dumps(
                    {"objective": spec.objective, "maxLength": tr.max_length, **stats.to_dict()}, indent=2
                )
                + "\n"
            )
            runtime.write_metrics(out, metrics)
            runtime.commit(resource, out, spec.output)
            log.info("reward model %s: %s", spec.objective, metrics)
        runtime.barrier(env)
        metrics = runtime.broadcast_object(env, metrics)
    return metrics


__all__ = ["run"]
