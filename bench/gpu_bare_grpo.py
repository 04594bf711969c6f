"""The bare TRL GRPO baseline of ``bench/gpu.py``: ``trl.GRPOTrainer`` used directly, as its docs show.

Same policy directory, prompts, per-prompt weights and combined reward (the K reward models' z-scores
weighted by w(x), ``pro.align.rewards.CombinedReward``) and the same settings as the ``PolicyAlignment``
stage it is compared with; none of the stage's own code path (spec, policy preparation, weight
computation, checkpoint callbacks, artifact commit).  Run under torchrun like the stage:

    torchrun --standalone --nproc-per-node=1 -m bench.gpu_bare_grpo --policy DIR --data F \\
        --objectives a,b --reward-models '{"a": URI, ...}' --work DIR --settings '{"steps": 8, ...}'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", required=True)
    ap.add_argument("--data", required=True, help="JSONL rows {prompt, raw_prompt, weights}")
    ap.add_argument("--objectives", required=True)
    ap.add_argument("--reward-models", required=True, help="JSON objective → artifact URI")
    ap.add_argument("--work", required=True)
    ap.add_argument("--settings", required=True, help="JSON: steps, batch, numGenerations, maxNewTokens, ...")
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from pro.align.rewards import CombinedReward
    from pro.weights.targets import RewardBank

    s = json.loads(args.settings)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    dataset = Dataset.from_list(rows)
    reward = CombinedReward(
        RewardBank.load(args.objectives.split(","), json.loads(args.reward_models), batch_size=64)
    )
    cuda = torch.cuda.is_available()
    if s.get("threads"):  # the stage's training.threads
        torch.set_num_threads(int(s["threads"]))
    if cuda:  # TF32 for float32 matrix products, as the stage allows it (pro.models.device.enable_tf32)
        torch.set_float32_matmul_precision("high")
    config = GRPOConfig(
        output_dir=args.work,
        max_steps=s["steps"],
        learning_rate=s["lr"],
        lr_scheduler_type="constant",
        per_device_train_batch_size=s["batch"],
        num_generations=s["numGenerations"],
        max_completion_length=s["maxNewTokens"],
        temperature=s["temperature"],
        top_p=s["topP"],
        beta=s["beta"],
        seed=s["seed"],
        bf16=True,  # TRL's default, said out loud
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        use_cpu=not cuda,
    )
    trainer = GRPOTrainer(
        model=args.policy,
        reward_funcs=[reward],
        args=config,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(args.policy),
    )
    trainer.train()
    print(json.dumps({"kind": "bare-grpo", "steps": int(trainer.state.global_step)}))


if __name__ == "__main__":
    main()
