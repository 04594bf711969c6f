"""PRO-MORLHF: TRL GRPO (default) or RLOO on the combined reward, with KL to the reference policy.

The dataset carries ``prompt`` (the policy's view), ``raw_prompt`` (what the reward models see) and
``weights`` (w(x), computed once before training).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.align.rewards import CombinedReward
from pro.spec.align import PolicyAlignmentSpec


def make_dataset(prompt_texts: Sequence[str], raw_prompts: Sequence[str], weights: np.ndarray) -> Any:
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": list(prompt_texts),
            "raw_prompt": list(raw_prompts),
            "weights": [[float(x) for x in row] for row in weights],
        }
    )


def trainer_config(spec: PolicyAlignmentSpec, work: Path, *, checkpoint_every: int) -> Any:
    """GRPOConfig / RLOOConfig from the spec."""
    from pro.models.training import training_arguments_kwargs

    kwargs = training_arguments_kwargs(spec.training, work, spec.deepspeed)
    g = spec.generation
    kwargs.update(
        num_generations=g.num_generations,
        max_completion_length=g.max_new_tokens,
        temperature=g.temperature,
        top_p=g.top_p,
        beta=spec.beta,
        logging_steps=1,
        remove_unused_columns=False,
        shuffle_dataset=True,
    )
    kwargs.pop("per_device_eval_batch_size", None)
    # every process generates num_generations completions for per_device_batch_size / num_generations prompts
    kwargs["per_device_train_batch_size"] = max(
        g.num_generations, (spec.training.per_device_batch_size // g.num_generations) * g.num_generations
    )
    if checkpoint_every:
        kwargs.update(save_strategy="steps", save_steps=checkpoint_every, save_only_model=False)
    if spec.algorithm == "grpo":
        from trl import GRPOConfig  # type: ignore[attr-defined]

        return GRPOConfig(**kwargs)
    from trl import RLOOConfig  # type: ignore[attr-defined]

    return RLOOConfig(**kwargs)


def make_trainer(
    spec: PolicyAlignmentSpec,
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    reward: CombinedReward,
    work: Path,
    callbacks: Sequence[Any] = (),
) -> Any:
    from pro.models.training import lora_config

    args = trainer_config(spec, work, checkpoint_every=spec.checkpoint_every)
    peft_config = lora_config(spec.lora, "CAUSAL_LM", default_targets="all-linear")
    common: dict[str, Any] = {
        "model": model,
        "reward_funcs": [reward],
        "args": args,
        "train_dataset": dataset,
        "processing_class": tokenizer,
        "peft_config": peft_config,
        "callbacks": list(callbacks),
    }
    if spec.algorithm == "grpo":
        from trl import GRPOTrainer  # type: ignore[attr-defined]

        trainer: Any = GRPOTrainer(**common)
    else:
        from trl import RLOOTrainer  # type: ignore[attr-defined]

        trainer = RLOOTrainer(**common)
    if spec.training.report_to:  # first, so the trackers' callbacks see what it adds to each log
        mean_w = np.asarray(dataset["weights"], dtype=np.float64).mean(axis=0)
        trainer.callback_handler.callbacks.insert(
            0, reward_log(reward, dict(zip(spec.objectives, mean_w, strict=True)))
        )
    return trainer


def reward_log(reward: CombinedReward, mean_weights: dict[str, float]) -> Any:
    """A callback adding the combined reward's latest record (each objective's mean z, the combined
    reward, length, true utility) and the mean weight per objective to every log the trackers get."""
    from transformers import TrainerCallback

    class RewardLog(TrainerCallback):
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any
        ) -> None:
            if logs is None:
                return
            if reward.history:
                logs.update({f"pro/{k}": v for k, v in reward.history[-1].items()})
            logs.update({f"pro/weight/{o}": float(w) for o, w in mean_weights.items()})

    return RewardLog()


__all__ = ["make_dataset", "make_trainer", "reward_log", "trainer_config"]
