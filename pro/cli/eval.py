"""``pro eval``: compare two policies on held-out prompts (win rate, per-objective rewards, report).

Either a PolicyEvaluation resource (``-f eval.yaml``, as ``pro stage eval`` runs it) or the policies and
judge on the command line (``--policy-a``, ``--policy-b``, ``--prompts``, a judge, ``--out``).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from pro.errors import UserError

if TYPE_CHECKING:
    from pro.spec.evaluation import PolicyEvaluation


EXAMPLES = """\
examples:
  pro eval -f examples/toy/eval.yaml
  pro eval -f examples/toy/eval.yaml -o json
  # the two policies of pro run -f examples/toy/pipeline.yaml, on 50 prompts:
  pro eval --policy-a examples/toy/toy-out/store/default/toy/default/align \\
    --policy-b examples/toy/toy-out/store/default/toy/default/align-baseline \\
    --prompts examples/toy/toy-out/heldout.jsonl --world examples/toy/toy-out \\
    --max-prompts 50 --name-a pro --name-b uniform --out eval-50
"""


class _Renamed(argparse.Action):
    """A flag that was renamed: one line naming its new name (argparse's usage error, exit 2)."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs="?", **kwargs)  # type: ignore[arg-type]
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} is now {self.new} (flags name what they set, as kubectl's do)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compare policy A with policy B: win rate by a judge (ties ½), per-objective rewards, lengths,\n"
        "metrics.json and report.html.  Either a PolicyEvaluation file (-f, as pro stage eval runs it)\n"
        "or the policies, prompts and judge as flags."
    )
    parser.epilog = EXAMPLES
    parser.add_argument(
        "-f", "--filename", "--spec", dest="spec", metavar="FILE", help="a PolicyEvaluation resource (YAML)"
    )
    parser.add_argument("--policy-a", metavar="URI", help="policy A (the candidate): an align artifact")
    parser.add_argument("--policy-b", metavar="URI", help="policy B (the baseline): an align artifact")
    for old, new in (("--a", "--policy-a"), ("--b", "--policy-b")):
        parser.add_argument(old, action=_Renamed, new=new, help=argparse.SUPPRESS)
    parser.add_argument("--name-a", default="a", help="label of policy A in the report")
    parser.add_argument("--name-b", default="b", help="label of policy B in the report")
    parser.add_argument("--prompts", metavar="FILE", help="held-out prompt file (JSONL)")
    judge = parser.add_mutually_exclusive_group()
    judge.add_argument("--world", metavar="DIR", help="judge by the toy world's true utility")
    judge.add_argument("--judge-rm", metavar="URI", help="judge by a reward-model artifact")
    judge.add_argument(
        "--judge-pairwise", metavar="URI", help="judge pairwise by a causal-LM artifact (AlpacaEval style)"
    )
    parser.add_argument(
        "--adapter", metavar="URI", help="adapter whose weights per category go into the report"
    )
    parser.add_argument("--max-prompts", type=int, help="evaluate at most this many prompts")
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature (default: each policy's training temperature); greedy is always evaluated",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=4,
        help="completions sampled per prompt besides the greedy one (default 4; 0: greedy only)",
    )
    parser.add_argument("--out", metavar="URI", help="where the metrics and report are committed")
    parser.add_argument(
        "--output",
        "-o",
        choices=["table", "json"],
        default="table",
        help="print the result table (as pro run does) or a JSON summary",
    )


def resource_from_args(args: argparse.Namespace) -> PolicyEvaluation:
    from pydantic import ValidationError

    from pro.spec.evaluation import PolicyEvaluation

    missing = [
        f"--{n.replace('_', '-')}" for n in ("policy_a", "policy_b", "prompts", "out") if not getattr(args, n)
    ]
    if missing:
        raise UserError(
            f"without -f FILE, {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
        )
    if not (args.world or args.judge_rm or args.judge_pairwise):
        raise UserError(
            "without -f FILE, a judge is required: --world DIR, --judge-rm URI or --judge-pairwise URI"
        )
    if args.world:
        judge = {"kind": "world", "world": args.world}
    elif args.judge_rm:
        judge = {"kind": "rewardModel", "uri": args.judge_rm}
    else:
        judge = {"kind": "pairwise", "uri": args.judge_pairwise}
    spec: dict[str, object] = {
        "policyA": {"name": args.name_a, "uri": args.policy_a},
        "policyB": {"name": args.name_b, "uri": args.policy_b},
        "prompts": args.prompts,
        "judge": judge,
        "samples": args.samples,
        "output": args.out,
    }
    if args.max_prompts:
        spec["maxPrompts"] = args.max_prompts
    if args.temperature is not None:
        spec["temperature"] = args.temperature
    if args.adapter:
        spec["adapter"] = args.adapter
    doc = {"apiVersion": "pro.alignment.dev/v1alpha1", "kind": "PolicyEvaluation", "metadata": {"name": "eval"},
           "spec": spec}  # fmt: skip
    try:
        return PolicyEvaluation.model_validate(doc)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(f"invalid arguments: {where}: {first['msg']}") from None


def run(args: argparse.Namespace) -> int:
    from pro.spec.evaluation import PolicyEvaluation

    if args.spec:
        from pro.spec import load_file
        from pro.spec.kinds import file_dir
        from pro.spec.paths import resolved

        resource = resolved(load_file(args.spec, PolicyEvaluation), file_dir(args.spec))
    else:
        resource = resource_from_args(args)
    import os
    import sys

    from rich.console import Console

    from pro.cli.results import print_result
    from pro.stages import evaluate

    metrics = evaluate.run(resource)
    if args.output == "json":
        keep = ("comparison", "policyA", "policyB", "prompts", "winRate", "interval")
        print(json.dumps({**{k: metrics[k] for k in keep}, "output": resource.spec.output}))
        return 0
    # logs and pipes get wide lines rather than tables wrapped at 80 columns (as pro run)
    console = Console() if sys.stdout.isatty() else Console(width=int(os.environ.get("COLUMNS", "160")))
    print_result(console, metrics)
    console.print(f"report: {resource.spec.output}/report.html", soft_wrap=True)
    return 0
