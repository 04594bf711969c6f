"""The paper's claim in miniature, on the toy world (CPU): PRO-MORLHF vs uniform- and oracle-weight MORLHF.

    .venv/bin/python bench/claim.py --tag b2-           # PRO vs uniform vs oracle, 3 seeds, into runs/claim/
    .venv/bin/python bench/claim.py --tag w5- --modes --wic   # PRO-WIC: adapter vs uniform weight tags
    .venv/bin/python bench/claim.py --tag quick- --seeds 0 --steps 40   # a quick look

The defaults are the configuration measured in docs/alignment.md.

Builds what is missing (toy world, 3 reward models, adapter: the example stage specs with paths moved
under ROOT), then per seed: one SFT starting policy shared by every weight mode, one PRO-MORLHF run per
mode (``PolicyAlignment`` stage, GRPO, same code, only ``weights.mode`` differs), greedy completions on
the held-out prompts judged by the world's hidden true utility.  Writes ROOT/claim.json,
ROOT/convergence.png, and a ``PolicyEvaluation`` report for seed 0 (ROOT/store/eval-s0/report.html).
Measures on a shared machine are pessimistic: say so when quoting the times.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OBJECTIVES = ["helpfulness", "harmlessness", "humor"]
POLICY = {
    "modelType": "llama",
    "hiddenSize": 64,
    "numHiddenLayers": 2,
    "numAttentionHeads": 4,
    "numKeyValueHeads": 4,
    "intermediateSize": 128,
    "maxPositionEmbeddings": 160,
}


def sh(*cmd: str) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def ensure_prerequisites(root: Path) -> dict[str, str]:
    """World, reward models and adapter under ROOT (built once; reused when committed)."""
    from pro.store import artifact_exists

    world = root / "world"
    if not (world / "heldout.jsonl").exists():
        sh(
            str(REPO / ".venv/bin/pro"),
            "toy",
            "generate",
            "--spec",
            "examples/toy/world.yaml",
            "--out",
            str(world),
        )
    specs = root / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    store = root / "store"
    names = [f"reward-{o}" for o in OBJECTIVES] + ["adapter"]
    for name in names:
        text = (REPO / "examples/toy" / f"{name}.yaml").read_text()
        text = text.replace("toy-out/store/", f"{store}/").replace("toy-out/", f"{world}/")
        (specs / f"{name}.yaml").write_text(text)
        target = store / (f"rm-{name[7:]}" if name.startswith("reward-") else "adapter")
        if not artifact_exists(str(target)):
            kind = "reward" if name.startswith("reward-") else "adapter"
            sh(str(REPO / ".venv/bin/pro"), "stage", kind, "--spec", str(specs / f"{name}.yaml"))
    return {o: str(store / f"rm-{o}") for o in OBJECTIVES} | {"adapter": str(store / "adapter")}


def sft_policy(root: Path, seed: int, steps: int) -> Path:
    """The shared starting policy of one seed (SFT on sft.jsonl), saved once."""
    import torch

    from pro.align.policy import build_policy, policy_prompt, sft
    from pro.data import read_prompts
    from pro.spec.model import ModelSource
    from pro.toy import World

    out = root / f"sft-s{seed}"
    if (out / "config.json").exists():
        return out
    world = World.load(root / "world")
    records = read_prompts(root / "world" / "sft.jsonl")
    torch.manual_seed(seed)
    source = ModelSource.model_validate({"config": POLICY, "tokenizer": {"build": {"kind": "wordlevel"}}})
    model, tok = build_policy(source, [" ".join(world.vocabulary())] + [r.prompt for r in records])
    sft(model, tok, [(policy_prompt(r.prompt), r.completion or "") for r in records],
        steps=steps, learning_rate=3e-3, batch_size=32, seed=seed)  # fmt: skip
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def align_doc(
    root: Path, art: dict[str, str], seed: int, mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    weights: dict[str, Any] = {"mode": mode}
    if args.floor:
        weights["floor"] = args.floor
    if mode == "adapter":
        weights["adapter"] = art["adapter"]
    if mode == "oracle":
        weights["world"] = str(root / "world")
    return {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": "PolicyAlignment",
        "metadata": {"name": f"align-{args.tag}{mode}-s{seed}"},
        "spec": {
            "method": "morlhf",
            "algorithm": args.algorithm,
            "objectives": OBJECTIVES,
            "rewardModels": {o: art[o] for o in OBJECTIVES},
            "weights": weights,
            "policy": {"name": str(root / f"sft-s{seed}")},
            "prompts": str(root / "world" / "sft.jsonl"),
            "generation": {"temperature": 0.7, "maxNewTokens": args.max_new_tokens,
                           "numGenerations": args.generations},
            "beta": args.beta,
            "training": {"maxSteps": args.steps, "learningRate": args.lr, "perDeviceBatchSize": args.batch,
                         "seed": seed, "scheduler": "constant", "threads": args.threads},
            "world": str(root / "world"),
            "output": str(root / "store" / f"{args.tag}{mode}-s{seed}"),
        },
    }  # fmt: skip


def wic_doc(root: Path, art: dict[str, str], seed: int, args: argparse.Namespace) -> dict[str, Any]:
    doc = align_doc(root, art, seed, "adapter", args)
    doc["metadata"]["name"] = f"align-{args.tag}wic-s{seed}"
    spec = doc["spec"]
    spec["method"] = "wic"
    spec["output"] = str(root / "store" / f"{args.tag}wic-s{seed}")
    spec["training"]["learningRate"] = args.wic_lr
    # its own tokenizer: built with the weight tags in its vocabulary (the shared SFT policy lacks them)
    spec["policy"] = {"config": POLICY, "tokenizer": {"build": {"kind": "wordlevel"}}}
    spec["init"] = {
        "data": str(root / "world" / "sft.jsonl"),
        "steps": args.sft_steps,
        "learningRate": 3e-3,
        "batchSize": 32,
    }
    spec["wic"] = {
        "offlineData": {"format": "jsonl", "path": str(root / "world" / "mixed.jsonl")},
        "offlineSteps": args.wic_offline_steps,
        "onlineSteps": args.wic_online_steps,
        "promptsPerRound": 16,
        "exploration": 0.1,
        "onlineLearningRate": args.wic_online_lr,
    }
    return doc


def run_wic(root: Path, art: dict[str, str], seed: int, args: argparse.Namespace, *, prompts: list[str],
            world: Any) -> dict[str, Any]:  # fmt: skip
    """One PRO-WIC policy; held-out completions with the adapter's weights vs uniform weights as tags."""
    from pro.align.generation import generate_with_weights
    from pro.eval.compare import win_rate
    from pro.spec.align import PolicyAlignment
    from pro.stages import align

    out = root / "store" / f"{args.tag}wic-s{seed}"
    t = time.perf_counter()
    if args.force or not (out / "manifest.json").exists():
        align.run(PolicyAlignment.model_validate(wic_doc(root, art, seed, args)))
    seconds = time.perf_counter() - t
    res: dict[str, Any] = {"seconds": round(seconds, 1)}
    utils = {}
    for label, kw in (("adapter", {"adapter": art["adapter"]}), ("uniform", {"uniform": True})):
        rows = generate_with_weights(str(out), prompts, max_new_tokens=args.max_new_tokens, **kw)  # type: ignore[arg-type]
        utils[label] = [world.utility(p, r["completion"]) for p, r in zip(prompts, rows, strict=True)]
        res[f"heldoutTrueUtility_{label}"] = float(np.mean(utils[label]))
    res["winRateAdapterVsUniformTags"] = win_rate(utils["adapter"], utils["uniform"])
    return res


def curve(history: list[dict[str, float]], window: int) -> tuple[np.ndarray, np.ndarray]:
    from pro.eval.report import smooth

    steps = np.asarray([h["step"] for h in history])
    return steps, smooth([h["trueUtility"] for h in history], window)


def steps_to_reach(steps: np.ndarray, values: np.ndarray, target: float) -> float | None:
    hit = np.nonzero(values >= target)[0]
    return float(steps[hit[0]]) if hit.size else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(REPO / "runs" / "claim"), help="work directory (git-ignored)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--modes", nargs="*", default=["adapter", "uniform", "oracle"])
    p.add_argument("--steps", type=int, default=200, help="RL steps per run")
    p.add_argument("--sft-steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=32, help="completions per step")
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=40)
    p.add_argument("--algorithm", default="grpo", choices=["grpo", "rloo"])
    p.add_argument("--window", type=int, default=10, help="moving average for the convergence curves")
    p.add_argument("--floor", type=float, default=0.2, help="weights.floor (mix with uniform) for every mode")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--wic", action="store_true", help="also train PRO-WIC per seed (adapter vs uniform tags)")
    p.add_argument("--wic-offline-steps", type=int, default=600)
    p.add_argument("--wic-online-steps", type=int, default=20)
    p.add_argument("--wic-lr", type=float, default=3e-3, help="offline SFT learning rate")
    p.add_argument("--wic-online-lr", type=float, default=1e-4)
    p.add_argument("--tag", default="", help="prefix of this configuration's outputs (e.g. final-)")
    p.add_argument("--force", action="store_true", help="re-run alignment runs that exist")
    args = p.parse_args(argv)

    import torch

    from pro.align.generation import complete
    from pro.data import read_prompts
    from pro.eval.compare import win_rate
    from pro.spec.align import PolicyAlignment
    from pro.spec.evaluation import PolicyEvaluation
    from pro.stages import align, evaluate
    from pro.toy import World

    torch.set_num_threads(args.threads)
    root = Path(args.root).resolve()
    t0 = time.perf_counter()
    art = ensure_prerequisites(root)
    prereq_s = time.perf_counter() - t0
    world = World.load(root / "world")
    held = read_prompts(root / "world" / "heldout.jsonl")
    prompts = [r.prompt for r in held]
    results: dict[str, Any] = {"args": vars(args), "prerequisiteSeconds": round(prereq_s, 1), "seeds": {}}
    t_compare = time.perf_counter()
    for seed in args.seeds:
        ts = time.perf_counter()
        sft_policy(root, seed, args.sft_steps)
        seed_res: dict[str, Any] = {"sftSeconds": round(time.perf_counter() - ts, 1), "runs": {}}
        utils: dict[str, np.ndarray] = {}
        for mode in args.modes:
            out = root / "store" / f"{args.tag}{mode}-s{seed}"
            doc = align_doc(root, art, seed, mode, args)
            (root / "specs" / f"align-{args.tag}{mode}-s{seed}.yaml").write_text(json.dumps(doc, indent=1))
            if args.force or not (out / "manifest.json").exists():
                tr = time.perf_counter()
                metrics = align.run(PolicyAlignment.model_validate(doc))
                metrics["wallSeconds"] = round(time.perf_counter() - tr, 1)
                (root / f"run-{args.tag}{mode}-s{seed}.json").write_text(json.dumps(metrics, indent=1))
            metrics = json.loads((root / f"run-{args.tag}{mode}-s{seed}.json").read_text())
            texts = complete(
                str(out), prompts, temperature=0.0, max_new_tokens=args.max_new_tokens, seed=seed
            ).texts
            utils[mode] = np.asarray([world.utility(p, t) for p, t in zip(prompts, texts, strict=True)])
            hist = json.loads((out / "history.json").read_text())
            seed_res["runs"][mode] = {
                "seconds": metrics.get("wallSeconds", metrics.get("seconds")),
                "heldoutTrueUtility": float(utils[mode].mean()),
                "finalTrainTrueUtility": metrics.get("finalTrueUtility"),
                "meanLength": float(np.mean([len(t.split()) for t in texts])),
                "history": [h["trueUtility"] for h in hist],
            }
            print(f"seed {seed} {mode:8s} held-out true utility {utils[mode].mean():.3f} "
                  f"({seed_res['runs'][mode]['seconds']} s)", flush=True)  # fmt: skip
        if "adapter" in utils and "uniform" in utils:
            seed_res["winRateProVsUniform"] = win_rate(list(utils["adapter"]), list(utils["uniform"]))
            u_steps, u_curve = curve(json.loads((root / "store" / f"{args.tag}uniform-s{seed}" / "history.json").read_text()),
                                     args.window)  # fmt: skip
            a_steps, a_curve = curve(json.loads((root / "store" / f"{args.tag}adapter-s{seed}" / "history.json").read_text()),
                                     args.window)  # fmt: skip
            target = float(u_curve[-1])
            reach = steps_to_reach(a_steps, a_curve, target)
            seed_res["convergence"] = {
                "uniformFinal": target,
                "uniformSteps": float(u_steps[-1]),
                "proStepsToUniformFinal": reach,
                "ratio": (reach / float(u_steps[-1])) if reach is not None else None,
            }
        if "adapter" in utils and "oracle" in utils:
            seed_res["winRateProVsOracle"] = win_rate(list(utils["adapter"]), list(utils["oracle"]))
            seed_res["proOverOracleUtility"] = float(utils["adapter"].mean() / utils["oracle"].mean())
        if args.wic:
            seed_res["wic"] = run_wic(root, art, seed, args, prompts=prompts, world=world)
            print(f"seed {seed} wic      {seed_res['wic']}", flush=True)
        results["seeds"][str(seed)] = seed_res
    results["comparisonSeconds"] = round(time.perf_counter() - t_compare, 1)

    seeds = list(results["seeds"].values())

    def mean_of(key: str) -> float | None:
        vals = [s[key] for s in seeds if s.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    ratios = [s["convergence"]["ratio"] for s in seeds if s.get("convergence")]
    results["summary"] = {
        "winRateProVsUniform": mean_of("winRateProVsUniform"),
        "winRateProVsOracle": mean_of("winRateProVsOracle"),
        "proOverOracleUtility": mean_of("proOverOracleUtility"),
        "heldoutTrueUtility": {
            m: float(np.mean([s["runs"][m]["heldoutTrueUtility"] for s in seeds])) for m in args.modes
        },
        "convergenceRatio": [r for r in ratios],
        "proRunSeconds": [s["runs"]["adapter"]["seconds"] for s in seeds if "adapter" in s["runs"]],
        "heldoutPrompts": len(prompts),
    }
    if args.wic:
        results["summary"]["wicWinRateAdapterVsUniformTags"] = float(
            np.mean([s["wic"]["winRateAdapterVsUniformTags"] for s in seeds])
        )
    (root / f"{args.tag}claim.json").write_text(json.dumps(results, indent=1))
    plot_convergence(root, results, args)
    if 0 in args.seeds and {"adapter", "uniform"} <= set(args.modes):
        ev = PolicyEvaluation.model_validate({
            "metadata": {"name": "eval-s0"},
            "spec": {
                "policyA": {"name": "pro", "uri": str(root / "store" / f"{args.tag}adapter-s0")},
                "policyB": {"name": "uniform", "uri": str(root / "store" / f"{args.tag}uniform-s0")},
                "prompts": str(root / "world" / "heldout.jsonl"),
                "judge": {"kind": "world", "world": str(root / "world")},
                "maxNewTokens": args.max_new_tokens,
                "runs": {m: str(root / "store" / f"{args.tag}{m}-s0") for m in args.modes},
                "adapter": art["adapter"],
                "output": str(root / "store" / f"{args.tag}eval-s0"),
            },
        })  # fmt: skip
        evaluate.run(ev)
    print(json.dumps(results["summary"], indent=1))
    return 0


def plot_convergence(root: Path, results: dict[str, Any], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pro.eval.report import smooth

    if not args.modes:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for mode in args.modes:
        rows = [s["runs"][mode]["history"] for s in results["seeds"].values() if mode in s["runs"]]
        n = min(len(r) for r in rows)
        mean = np.mean([r[:n] for r in rows], axis=0)
        ax.plot(
            np.arange(1, n + 1),
            smooth(list(mean), args.window),
            label=f"{re.sub('adapter', 'PRO (adapter)', mode)}",
        )
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("true utility of training samples")
    ax.set_title(f"toy world, mean over seeds {args.seeds}, moving average {args.window}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(root / f"{args.tag}convergence.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
