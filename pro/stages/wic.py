"""The PRO-WIC stage (``PolicyAlignment`` with ``method: wic``): offline conditioned SFT, then online
rejection sampling (:mod:`pro.align.wic`), committed like the MORLHF policy.

Runs in one process.  Artifact: the policy (model + tokenizer), ``policy.json`` (its card, with the tag
template and the targets' tau), ``history.json`` (per-round rewards, true utility when a toy world is
given), ``metrics.json`` and ``stage.yaml``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.spec.align import PolicyAlignment
from pro.stages import runtime


def run(resource: PolicyAlignment) -> dict[str, Any]:
    """Offline SFT + online rejection sampling; commits the policy and returns the metrics."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pro.align.card import PolicyCard
    from pro.align.policy import HISTORY_FILE, prepare_policy, save_policy, sft
    from pro.align.weighting import compute_weights
    from pro.align.wic import check_tags, offline_examples, rejection_sampling, tag_vocabulary, target_tau
    from pro.data.inputs import read_prompt_texts
    from pro.weights.targets import RewardBank

    spec = resource.spec
    w_spec = spec.wic
    tr = spec.training
    started = time.perf_counter()
    env = runtime.setup(tr)
    if env.distributed:
        raise UserError(
            "method 'wic' runs in one process (rejection sampling is cheap); use morlhf for torchrun"
        )
    prompts = read_prompt_texts(spec.prompts, spec.max_prompts)
    weights = compute_weights(spec.weights, spec.objectives, prompts)
    bank = RewardBank.load(spec.objectives, spec.reward_models, batch_size=tr.eval_batch_size)
    judge = None
    if spec.world:
        from pro.toy import World

        judge = World.load(spec.world).utility
    tau = target_tau(spec.weights)

    with runtime.work_dir("pro-wic-") as work:
        vocab_texts = tag_vocabulary(w_spec.template, spec.objectives)
        init_dir, info = prepare_policy(spec, work, prompts, prefix_tokens=vocab_texts)
        model = AutoModelForCausalLM.from_pretrained(init_dir)
        tokenizer = AutoTokenizer.from_pretrained(init_dir)
        check_tags(tokenizer, w_spec.template, spec.objectives)
        offline_rows = 0
        if w_spec.offline_data is not None and w_spec.offline_steps > 0:
            from pro.data import load_preferences

            pairs = load_preferences(w_spec.offline_data)
            if not pairs:
                raise UserError(f"wic.offlineData: {w_spec.offline_data.describe()}: no preference pairs")
            examples = offline_examples(bank, pairs, w_spec.template, tau, rejected=w_spec.offline_rejected)
            sft(model, tokenizer, examples, steps=w_spec.offline_steps, learning_rate=tr.learning_rate,
                batch_size=tr.per_device_batch_size, seed=tr.seed)  # fmt: skip
            offline_rows = len(examples)
        history = rejection_sampling(
            model, tokenizer, bank, prompts, weights, spec=spec, judge=judge, progress=runtime.report_progress
        )

        metrics: dict[str, Any] = {
            "method": "wic",
            "weightMode": spec.weights.mode,
            "steps": w_spec.online_steps,
            "offlineRows": offline_rows,
            "prompts": len(prompts),
            **info,
            "seconds": round(time.perf_counter() - started, 2),
        }
        if history:
            tail = history[-max(1, len(history) // 10) :]
            metrics["finalReward"] = float(np.mean([h["reward"] for h in tail]))
            if judge is not None:
                metrics["finalTrueUtility"] = float(np.mean([h["trueUtility"] for h in tail]))
        out = save_policy(model, tokenizer, PolicyCard.of(spec, tau=tau), work / "artifact")
        (out / HISTORY_FILE).write_text(json.dumps(history) + "\n")
        runtime.write_metrics(out, metrics)
        runtime.commit(resource, out, spec.output)
    return metrics


__all__ = ["run"]
