"""How close PRO gets to the toy world's optimum: the harness behind ``bench/optimum.py`` and its tests.

A *world* (the shipped one or a random one) is prepared once — data, K reward models, the adapter, with
the example pipeline's model settings — then each *configuration* (the example pipeline's ``alignment``
section with some fields changed) is run as a real ``PolicyAlignment`` stage per weight mode, and the
policies are judged on the world's held-out prompts by its hidden true utility: greedy, and ``samples``
completions per prompt at the training temperature (mean and best-of-n), each as a share of the
per-prompt optimum.  Everything runs in this process on the CPU.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pro.testing.toy_core import Profile, adapter_spec, reward_spec
from pro.testing.toy_pipeline import EXAMPLE

#: the example pipeline's reward-model and adapter settings (bench/quality.py's full profile)
PIPELINE_PROFILE = Profile(
    pairs=3000, test_pairs=500, mixed=1500, mixed_test=300, heldout=300,
    rm_hidden=64, rm_layers=2, rm_steps=600, rm_lr=3e-3, adapter_hidden=64, adapter_steps=300,
    adapter_lr=2e-3, batch=32, threads=1,
)  # fmt: skip
#: random worlds (bench/optimum.py --random-worlds): the pipeline's models with fewer steps, to fit ten
#: worlds into an hour or two of two shared cores
RANDOM_PROFILE = Profile(
    rm_hidden=64, rm_layers=2, rm_steps=200, rm_lr=3e-3, adapter_hidden=64, adapter_steps=200, adapter_lr=2e-3,
    batch=32, threads=1,
)  # fmt: skip
#: seconds, not minutes: the tests' world
QUICK_PROFILE = Profile(
    pairs=60, test_pairs=20, mixed=60, mixed_test=20, heldout=16, rm_hidden=16, rm_steps=3, adapter_hidden=16,
    adapter_steps=3, batch=8, threads=1,
)  # fmt: skip


@dataclass(frozen=True)
class PreparedWorld:
    """A world's data and the PRO core trained on it."""

    root: Path
    toy: Path
    objectives: list[str]
    reward_models: dict[str, str]
    adapter: str
    core: dict[str, Any] = field(default_factory=dict)
    """Reward-model held-out accuracy, adapter argmax/KL, seconds."""


def prepare(
    root: Path,
    world_spec: Path,
    profile: Profile,
    *,
    quick: bool = False,
    edit: Callable[[Path], None] | None = None,
    adapter: Mapping[str, Any] | None = None,
    reuse: PreparedWorld | None = None,
) -> PreparedWorld:
    """Generate the world into ``root/toy`` and train its reward models and adapter (once: reused when
    ``root/core.json`` exists).  ``edit`` changes the data files before training (label noise, a category
    held out); ``adapter`` changes fields of the adapter's spec (``target_normalization``); ``reuse``
    copies that world's data and keeps its reward models, training only the adapter."""
    import shutil

    from pro.stages import adapter as adapter_stage
    from pro.stages import reward as reward_stage
    from pro.toy.generate import generate

    toy, store = root / "toy", str(root / "store")

    def rm_uris(names: Sequence[str]) -> dict[str, str]:
        return {o: f"{store}/rm-{o}" for o in names}

    done = root / "core.json"
    if done.exists():
        recorded: dict[str, Any] = json.loads(done.read_text())
        names = list(recorded["objectives"])
        uris = reuse.reward_models if reuse else rm_uris(names)
        return PreparedWorld(root, toy, names, uris, f"{store}/adapter", recorded)
    root.mkdir(parents=True, exist_ok=True)
    if reuse is not None:
        shutil.rmtree(toy, ignore_errors=True)
        shutil.copytree(reuse.toy, toy)
    else:
        spec = yaml.safe_load(world_spec.read_text())
        if quick:
            spec["sizes"] = {"pairsPerObjective": profile.pairs, "testPairsPerObjective": profile.test_pairs,
                             "mixedPairs": profile.mixed, "mixedTestPairs": profile.mixed_test, "sft": 64,
                             "heldout": profile.heldout}  # fmt: skip
        (root / "world.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        generate(root / "world.yaml", toy, force=True)
    if edit is not None:
        edit(toy)
    started = time.perf_counter()
    names = list(json.loads((toy / "truth.json").read_text())["objectives"])
    core: dict[str, Any] = {"objectives": names}
    if reuse is None:
        rm = {o: reward_stage.run(reward_spec(toy, store, o, profile)) for o in names}
        core["rmAccuracy"] = {o: m.get("heldoutAccuracy") for o, m in rm.items()}
        uris = rm_uris(names)
    else:
        core["rmAccuracy"] = reuse.core.get("rmAccuracy")
        uris = reuse.reward_models
    ad_spec = adapter_spec(toy, store, names, profile)
    ad_spec = ad_spec.model_copy(
        update={"spec": ad_spec.spec.model_copy(update={"reward_models": uris, **(adapter or {})})}
    )
    ad = adapter_stage.run(ad_spec)
    core |= {
        "adapterHeldoutKL": ad.get("heldoutKL"),
        "adapterArgmax": ad.get("heldoutArgmaxAgreement"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    done.write_text(json.dumps(core, indent=1) + "\n")
    return PreparedWorld(root, toy, names, uris, f"{store}/adapter", core)


def example_alignment() -> dict[str, Any]:
    """The example pipeline's ``alignment`` section (plain data): the study's base configuration."""
    section: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())["spec"]["alignment"]
    return section


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in, recursively for mappings."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def alignment_doc(
    world: PreparedWorld, section: Mapping[str, Any], weights: Mapping[str, Any], name: str, seed: int
) -> dict[str, Any]:
    """A PolicyAlignment resource: the ``section`` (pipeline form) on ``world`` with these weights, its
    output named ``<name>-<digest of the spec>`` so configurations that differ in nothing that reaches
    this run (a uniform baseline under another floor) share it."""
    spec = merge(section, {"training": {"seed": seed}})
    spec.pop("resources", None)
    spec.pop("checkpointEvery", None)
    toy = str(world.toy)
    spec["init"] = {**spec["init"], "data": str(world.toy / "sft.jsonl")}
    spec["prompts"] = str(world.toy / "sft.jsonl")
    spec["world"] = toy
    w = dict(weights)
    if w.get("mode") == "adapter":
        w["adapter"] = world.adapter
    if w.get("mode") == "oracle":
        w["world"] = toy
    if "floor" in section.get("weights", {}) and "floor" not in w and w.get("mode") != "uniform":
        w["floor"] = section["weights"]["floor"]  # uniform mixed with uniform is uniform
    if not w.get("floor", 1):
        w.pop("floor")  # 0 is the default
    if spec.get("wic", {}).get("offlineData") is not None:
        spec["wic"] = {
            **spec["wic"],
            "offlineData": {"format": "jsonl", "path": str(world.toy / "mixed.jsonl")},
        }
    spec |= {"objectives": world.objectives, "rewardModels": world.reward_models, "weights": w}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{name}-{digest}"
    spec["output"] = str(world.root / "store" / name)
    return {"apiVersion": "pro.alignment.dev/v1alpha1", "kind": "PolicyAlignment",
            "metadata": {"name": re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")}, "spec": spec}  # fmt: skip


def align(world: PreparedWorld, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Run the alignment stage (once: a committed output is reused with its recorded metrics)."""
    from pro.spec.align import PolicyAlignment
    from pro.stages import align as align_stage

    out = Path(doc["spec"]["output"])
    record = out.parent / f"{out.name}.metrics.json"
    if (out / "manifest.json").exists() and record.exists():
        cached: dict[str, Any] = json.loads(record.read_text())
        return cached
    metrics = align_stage.run(PolicyAlignment.model_validate(doc))
    record.write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


@dataclass(frozen=True)
class Judged:
    """A policy's true utility on the held-out prompts: greedy, and ``samples`` samples per prompt."""

    greedy: np.ndarray
    """[N]"""
    sampled: np.ndarray
    """[samples, N]"""
    optimum: np.ndarray
    """[N] the per-prompt optimum"""
    distinct_greedy: int

    def share(self, which: str) -> float:
        """Mean utility over mean optimum: ``greedy``, ``sampled`` (mean) or ``bestOfN``."""
        values = {
            "greedy": self.greedy,
            "sampled": self.sampled.mean(axis=0),
            "bestOfN": self.sampled.max(axis=0),
        }
        return float(values[which].mean() / self.optimum.mean())


def judge_policy(
    uri: str,
    world_dir: Path,
    *,
    samples: int,
    temperature: float,
    max_new_tokens: int,
    weights: Any = None,
    max_prompts: int | None = None,
) -> Judged:
    """Greedy and sampled completions on ``heldout.jsonl`` judged by the world's true utility."""
    from pro.align.generation import complete
    from pro.data import read_prompts
    from pro.toy import World

    world = World.load(world_dir)
    prompts = [r.prompt for r in read_prompts(world_dir / "heldout.jsonl")][:max_prompts]
    opt = np.asarray([world.optimum_of(p) for p in prompts])

    def utilities(texts: Sequence[str]) -> np.ndarray:
        return np.asarray([world.utility(p, t) for p, t in zip(prompts, texts, strict=True)])

    greedy = complete(uri, prompts, weights=weights, temperature=0.0, max_new_tokens=max_new_tokens).texts
    sampled = [
        utilities(complete(uri, prompts, weights=weights, temperature=temperature,
                           max_new_tokens=max_new_tokens, seed=1000 + s).texts)
        for s in range(samples)
    ]  # fmt: skip
    return Judged(utilities(greedy), np.asarray(sampled), opt, len(set(greedy)))


def wins(a: np.ndarray, b: np.ndarray) -> float:
    from pro.eval.gate import row_wins

    return float(row_wins(a, b).mean())


def summary(pro: Judged, base: Judged) -> dict[str, Any]:
    """The numbers of one PRO-vs-baseline comparison (shares of the optimum, win rates)."""
    row: dict[str, Any] = {}
    for label, j in (("pro", pro), ("uniform", base)):
        row[label] = {
            "shareGreedy": j.share("greedy"),
            "shareSampled": j.share("sampled"),
            "shareBestOfN": j.share("bestOfN"),
            "distinctGreedy": j.distinct_greedy,
        }
    row["optimum"] = float(pro.optimum.mean())
    row["winRateGreedy"] = wins(pro.greedy, base.greedy)
    row["winRateSampled"] = wins(pro.sampled.ravel(), base.sampled.ravel())
    return row


def pro_vs_uniform(
    world: PreparedWorld,
    section: Mapping[str, Any],
    seed: int,
    *,
    samples: int = 4,
    max_prompts: int | None = None,
    baseline: PreparedWorld | None = None,
) -> dict[str, Any]:
    """PRO-MORLHF (the world's adapter) vs uniform-weight MORLHF with ``section``'s settings, judged on the
    held-out prompts (the uniform run of ``baseline`` when given: a variant that changed only the adapter)."""
    temperature = float(section["generation"]["temperature"])
    max_new_tokens = int(section["generation"]["maxNewTokens"])
    judged, seconds = {}, {}
    for mode, where in (("adapter", world), ("uniform", baseline or world)):
        doc = alignment_doc(where, section, {"mode": mode}, f"{mode}-s{seed}", seed)
        seconds[mode] = align(where, doc)["seconds"]
        judged[mode] = judge_policy(doc["spec"]["output"], world.toy, samples=samples, temperature=temperature,
                                    max_new_tokens=max_new_tokens, max_prompts=max_prompts)  # fmt: skip
    return {**summary(judged["adapter"], judged["uniform"]), "alignSeconds": seconds}


def adapter_by_category(world: PreparedWorld, adapter: str | None = None) -> dict[str, Any]:
    """The adapter's weights on the held-out prompts, per category: mean weights, the share whose argmax
    is the category's dominant objective, and the hidden weights."""
    from pro.data import read_prompts
    from pro.toy import World
    from pro.weights import AdapterWeights

    truth = World.load(world.toy)
    provider = AdapterWeights(adapter or world.adapter)
    rows = read_prompts(world.toy / "heldout.jsonl")
    w = provider.weights([r.prompt for r in rows])
    out = {}
    for c in truth.categories:
        idx = [i for i, r in enumerate(rows) if r.category == c]
        dominant = provider.objectives.index(truth.dominant(c))
        out[c] = {
            "argmaxDominant": float(np.mean(w[idx].argmax(axis=1) == dominant)),
            "mean": {o: float(w[idx, k].mean()) for k, o in enumerate(provider.objectives)},
            "truth": truth.category_weights(c),
        }
    return out


__all__ = [
    "PIPELINE_PROFILE",
    "QUICK_PROFILE",
    "RANDOM_PROFILE",
    "Judged",
    "PreparedWorld",
    "adapter_by_category",
    "align",
    "alignment_doc",
    "example_alignment",
    "judge_policy",
    "merge",
    "prepare",
    "pro_vs_uniform",
    "summary",
    "wins",
]
