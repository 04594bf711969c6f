"""``pro stage reward|adapter --spec FILE``: run one training stage (the entrypoint a pod runs).

Runs under ``torchrun`` with any number of processes (``torchrun … -m pro stage reward --spec F``);
only rank 0 commits the artifact and prints the result.
"""

from __future__ import annotations

import argparse
import json
import os

KINDS = {
    "reward": "RewardModelTraining",
    "rmt": "RewardModelTraining",
    "adapter": "AdapterTraining",
    "adt": "AdapterTraining",
    "align": "PolicyAlignment",
    "pal": "PolicyAlignment",
    "eval": "PolicyEvaluation",
    "pev": "PolicyEvaluation",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run one stage from its resource file (kind RewardModelTraining, AdapterTraining,\n"
        "PolicyAlignment or PolicyEvaluation).\n"
        "Under torchrun every process runs this command; rank 0 commits the artifact.\n\n"
        "examples:\n"
        "  pro stage reward --spec examples/toy/reward-helpfulness.yaml\n"
        "  torchrun --standalone --nproc_per_node 2 -m pro stage adapter --spec examples/toy/adapter.yaml\n"
        "  pro stage align --spec examples/toy/align-pro.yaml\n"
        "  pro stage eval --spec examples/toy/eval.yaml"
    )
    parser.add_argument(
        "kind",
        choices=sorted(KINDS),
        help="reward (RewardModelTraining), adapter (AdapterTraining), align (PolicyAlignment) or eval "
        "(PolicyEvaluation)",
    )
    parser.add_argument("--spec", "-f", required=True, metavar="FILE", help="the stage resource (YAML)")


def run(args: argparse.Namespace) -> int:
    from pro.spec import load_file

    kind = KINDS[args.kind]
    if kind == "RewardModelTraining":
        from pro.spec.stages import RewardModelTraining
        from pro.stages import reward

        metrics = reward.run(load_file(args.spec, RewardModelTraining))
    elif kind == "PolicyAlignment":
        from pro.spec.align import PolicyAlignment
        from pro.stages import align

        metrics = align.run(load_file(args.spec, PolicyAlignment))
    elif kind == "PolicyEvaluation":
        from pro.spec.evaluation import PolicyEvaluation
        from pro.stages import evaluate

        metrics = evaluate.run(load_file(args.spec, PolicyEvaluation))
    else:
        from pro.spec.stages import AdapterTraining
        from pro.stages import adapter

        metrics = adapter.run(load_file(args.spec, AdapterTraining))
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({"kind": kind, **metrics}, sort_keys=False))
    return 0
