"""The alignment stage (``PolicyAlignment``): PRO-MORLHF (TRL GRPO/RLOO) here, PRO-WIC in :mod:`.wic`.

Per-prompt weights ``w(x)`` are computed once, batched, before training (rank 0, broadcast) and carried
as a dataset column.  Artifact: the policy (model + tokenizer, LoRA merged), ``policy.json`` (objectives,
method, weight mode, WIC template), ``weights.jsonl`` (w(x) per training prompt), ``history.json``
(per-step rewards, z per objective, true utility when a toy world is given), ``metrics.json`` and
``stage.yaml``.  With ``checkpointEvery`` the trainer's checkpoints are committed to
``<output>-checkpoints/step-NNNNNN``; a restarted stage resumes from the last committed one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pro.planner.compose import work_digest
from pro.spec.align import PolicyAlignment, PolicyAlignmentSpec
from pro.stages import runtime

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.jsonl"


def checkpoint_prefix(spec: PolicyAlignmentSpec) -> str:
    return spec.output.rstrip("/") + "-checkpoints"


def last_checkpoint(resource: PolicyAlignment) -> tuple[str, int] | None:
    """The last checkpoint (URI, step) committed for this stage's work, if any (checkpoints of other
    work — a changed spec or changed inputs at the same output URI — are ignored)."""
    from pro.store import list_artifacts

    prefix = checkpoint_prefix(resource.spec)
    digest = work_digest(resource)
    try:
        found = list_artifacts(prefix)
    except Exception:  # no such prefix yet
        return None
    best: tuple[str, int] | None = None
    for uri, manifest in found:
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        if manifest.work_digest != digest:
            continue
        if name.startswith("step-") and name[5:].isdigit():
            step = int(name[5:])
            if best is None or step > best[1]:
                best = (uri, step)
    return best


def _checkpoint_callback(
    resource: PolicyAlignment, env: runtime.DistEnv, on_commit: Callable[[int], None]
) -> Any:
    from transformers import TrainerCallback

    spec = resource.spec

    class CommitCheckpoint(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if not env.is_main:
                return
            src = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if src.is_dir():
                from pro.store import Producer, put_artifact

                uri = f"{checkpoint_prefix(spec)}/step-{state.global_step:06d}"
                put_artifact(
                    src,
                    uri,
                    producer=Producer(kind=resource.kind, name=resource.metadata.name),
                    work_digest=work_digest(resource),
                )
                on_commit(state.global_step)
                log.info("checkpoint step %d committed to %s", state.global_step, uri)

    return CommitCheckpoint()


def run(resource: PolicyAlignment) -> dict[str, Any]:
    """Align, evaluate the training curve, and commit the policy; returns the metrics (on every rank)."""
    if resource.spec.method == "wic":
        from pro.stages import wic

        return wic.run(resource)
    return run_morlhf(resource)


def run_morlhf(resource: PolicyAlignment) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM

    from pro.align.card import PolicyCard
    from pro.align.morlhf import make_dataset, make_trainer
    from pro.align.policy import HISTORY_FILE, policy_prompt, prepare_policy, save_policy
    from pro.align.rewards import CombinedReward
    from pro.align.weighting import compute_weights
    from pro.data.inputs import read_prompt_texts
    from pro.weights.targets import RewardBank

    spec = resource.spec
    tr = spec.training
    started = time.perf_counter()
    env = runtime.setup(tr)

    prompts = read_prompt_texts(spec.prompts, spec.max_prompts)
    weights = None
    if env.is_main:
        t0 = time.perf_counter()
        weights = compute_weights(spec.weights, spec.objectives, prompts)
        weight_seconds = time.perf_counter() - t0
    weights = runtime.broadcast_object(env, weights)
    bank = RewardBank.load(spec.objectives, spec.reward_models, batch_size=tr.eval_batch_size)
    judge = None
    if spec.world:
        from pro.toy import World

        judge = World.load(spec.world).utility
    reward = CombinedReward(bank, judge=judge)

    resume = last_checkpoint(resource)
    with runtime.work_dir("pro-align-") as work:
        init_dir, init_info = prepare_policy(spec, work, prompts)
        model = AutoModelForCausalLM.from_pretrained(init_dir)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(init_dir)
        dataset = make_dataset([policy_prompt(p) for p in prompts], prompts, weights)
        committed: list[int] = []
        trainer = make_trainer(
            spec,
            model,
            tokenizer,
            dataset,
            reward=reward,
            work=work / "trainer",
            callbacks=[_checkpoint_callback(resource, env, committed.append), runtime.progress_callback()],
        )
        resume_dir = None
        if resume is not None:
            uri, step = resume
            local = runtime.fetch(uri)
            resume_dir = work / "resume" / f"checkpoint-{step}"
            shutil.copytree(local, resume_dir)
            log.info("resuming from %s (step %d)", uri, step)
        result = runtime.metric_lines(trainer).train(
            resume_from_checkpoint=str(resume_dir) if resume_dir else None
        )
        trained = runtime.trained_model(trainer, env, deepspeed=spec.deepspeed, lora=spec.lora)

        metrics: dict[str, Any] = {}
        if env.is_main:
            history = _history(trainer, reward)
            tail = history[-max(1, len(history) // 10) :]
            metrics = {
                "method": spec.method,
                "algorithm": spec.algorithm,
                "weightMode": spec.weights.mode,
                "steps": int(trainer.state.global_step),
                "resumedFrom": resume[1] if resume else 0,
                "prompts": len(prompts),
                "finalReward": float(np.mean([h["reward"] for h in tail])) if tail else None,
                "trainLoss": float(result.training_loss),
                "weightSeconds": round(weight_seconds, 3),
                "meanWeights": {o: float(weights[:, k].mean()) for k, o in enumerate(spec.objectives)},
                "worldSize": env.world_size,
                **init_info,
                "seconds": round(time.perf_counter() - started, 2),
            }
            if judge is not None and tail:
                metrics["finalTrueUtility"] = float(np.mean([h["trueUtility"] for h in tail]))
            out = save_policy(trained, tokenizer, PolicyCard.of(spec), work / "artifact")
            with (out / WEIGHTS_FILE).open("w") as fh:
                for p, w in zip(prompts, weights, strict=True):
                    fh.write(json.dumps({"prompt": p, "w": [round(float(x), 5) for x in w]}) + "\n")
            (out / HISTORY_FILE).write_text(json.dumps(history) + "\n")
            runtime.write_metrics(out, metrics)
            runtime.commit(resource, out, spec.output)
        runtime.barrier(env)
        metrics = runtime.broadcast_object(env, metrics)
    return metrics


def _history(trainer: Any, reward: Any) -> list[dict[str, float]]:
    """Per optimizer step: the reward function's records (one per generation batch) with the step, and the
    trainer's KL to the reference policy at that step (logged when ``beta`` > 0)."""
    rows = []
    log_steps = [h for h in trainer.state.log_history if "loss" in h and "step" in h]
    start = log_steps[0]["step"] - 1 if log_steps else 0
    kl = {float(h["step"]): float(h["kl"]) for h in log_steps if "kl" in h}
    for i, row in enumerate(reward.history):
        step = float(start + i + 1)
        rows.append({"step": step, **row, **({"kl": kl[step]} if step in kl else {})})
    return rows


__all__ = ["last_checkpoint", "run", "run_morlhf"]
