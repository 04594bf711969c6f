"""The PRO core on the toy world: toy generate → K reward models → adapter → quality against the truth.

Used by ``bench/quality.py`` (and ``bench/tau.py``, ``bench/scoring.py``) and by the tests.  Everything runs
in this process on the CPU; artifacts go to a plain-path store under the output directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pro.spec.data import DataSource
from pro.spec.model import ModelSource, TokenizerBuild, TokenizerSource
from pro.spec.stages import (
    AdapterHead,
    AdapterTraining,
    AdapterTrainingSettings,
    AdapterTrainingSpec,
    RewardModelTraining,
    RewardModelTrainingSpec,
    RewardTrainingSettings,
)
from pro.store import join_uri

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "examples" / "toy" / "world.yaml"


@dataclass(frozen=True)
class Profile:
    """World size, model sizes and steps of one run of the core."""

    pairs: int = 600
    test_pairs: int = 200
    mixed: int = 600
    mixed_test: int = 200
    heldout: int = 200
    rm_hidden: int = 48
    rm_layers: int = 1
    rm_steps: int = 120
    rm_lr: float = 3e-3
    adapter_hidden: int = 48
    adapter_steps: int = 150
    adapter_lr: float = 3e-3
    batch: int = 32
    tau: float = 0.1
    seed: int = 0
    threads: int | None = None


#: ≤ 3 minutes on 2 cores (bench/quality.py --quick; tests use an even smaller one)
DEMO = Profile()


def write_world(
    out: Path, profile: Profile, world: Path = WORLD, objectives: list[str] | None = None
) -> Path:
    """A copy of the toy world spec with the profile's sizes (and optionally fewer objectives)."""
    spec: dict[str, Any] = yaml.safe_load(world.read_text())
    spec["sizes"] = {
        "pairsPerObjective": profile.pairs,
        "testPairsPerObjective": profile.test_pairs,
        "mixedPairs": profile.mixed,
        "mixedTestPairs": profile.mixed_test,
        "sft": 50,
        "heldout": profile.heldout,
    }
    if objectives is not None:
        spec["objectives"] = objectives
        for cat in spec["categories"]:
            cat["weights"] = {o: w for o, w in cat["weights"].items() if o in objectives}
        for seg in spec["segments"]:
            seg["effects"] = {o: w for o, w in seg.get("effects", {}).items() if o in objectives}
            for name, eff in list(seg.get("categoryEffects", {}).items()):
                seg["categoryEffects"][name] = {o: w for o, w in eff.items() if o in objectives}
        lp = spec.get("lengthPenalty", {}).get("perToken")
        if lp is not None:
            spec["lengthPenalty"]["perToken"] = {o: w for o, w in lp.items() if o in objectives}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def _bert(hidden: int, layers: int, positions: int, vocab: int) -> ModelSource:
    return ModelSource(
        config={
            "modelType": "bert",
            "hiddenSize": hidden,
            "numHiddenLayers": layers,
            "numAttentionHeads": 4 if hidden % 4 == 0 else 1,
            "intermediateSize": hidden * 2,
            "maxPositionEmbeddings": positions,
        },
        tokenizer=TokenizerSource(build=TokenizerBuild(kind="wordlevel", vocab_size=vocab)),
    )


def reward_spec(toy: Path, store: str, objective: str, p: Profile) -> RewardModelTraining:
    return RewardModelTraining.model_validate(
        {
            "metadata": {"name": f"rm-{objective}".replace("_", "-")},
            "spec": RewardModelTrainingSpec(
                objective=objective,
                data=DataSource(format="jsonl", path=str(toy / "pairs" / f"{objective}.jsonl")),
                eval_data=DataSource(format="jsonl", path=str(toy / "pairs" / f"{objective}.test.jsonl")),
                model=_bert(p.rm_hidden, p.rm_layers, 128, 2000),
                training=RewardTrainingSettings(
                    max_steps=p.rm_steps,
                    learning_rate=p.rm_lr,
                    per_device_batch_size=p.batch,
                    max_length=128,
                    warmup_ratio=0.05,
                    seed=p.seed,
                    threads=p.threads,
                ),
                output=join_uri(store, f"rm-{objective}"),
            ),
        }
    )


def adapter_spec(
    toy: Path, store: str, objectives: list[str], p: Profile, *, data: Path | None = None
) -> AdapterTraining:
    return AdapterTraining.model_validate(
        {
            "metadata": {"name": "adapter"},
            "spec": AdapterTrainingSpec(
                objectives=objectives,
                reward_models={o: join_uri(store, f"rm-{o}") for o in objectives},
                data=DataSource(format="jsonl", path=str(data or toy / "mixed.jsonl")),
                eval_data=None if data else DataSource(format="jsonl", path=str(toy / "mixed.test.jsonl")),
                tau=p.tau,
                model=_bert(p.adapter_hidden, 1, 64, 1000),
                head=AdapterHead(pooling="mean"),
                training=AdapterTrainingSettings(
                    max_steps=p.adapter_steps,
                    learning_rate=p.adapter_lr,
                    per_device_batch_size=p.batch,
                    max_length=48,
                    seed=p.seed,
                    eval_fraction=0.1,
                    threads=p.threads,
                ),
                output=join_uri(store, "adapter"),
            ),
        }
    )


def evaluate_adapter(adapter_uri: str, toy: Path) -> dict[str, Any]:
    """The toy quality bars on ``heldout.jsonl``: argmax vs the category's dominant hidden objective,
    (see :func:`category_tv` for the distance to the category's mean target w*)."""
    from pro.data.schema import read_prompts
    from pro.toy.world import World
    from pro.weights import AdapterWeights

    world = World.load(toy / "world.yaml")
    provider = AdapterWeights(adapter_uri)
    rows = read_prompts(toy / "heldout.jsonl")
    prompts = [r.prompt for r in rows]
    cats = [r.category or world.category_of(r.prompt) for r in rows]
    w = provider.weights(prompts)
    names = provider.objectives
    dominant = np.asarray([names.index(world.dominant(c)) for c in cats])
    return {
        "prompts": len(rows),
        "argmaxDominant": float(np.mean(w.argmax(1) == dominant)),
        "weights": w,
        "categories": cats,
    }


def category_tv(
    weights: np.ndarray,
    categories: list[str],
    mean_by_category: dict[str, dict[str, float]],
    objectives: list[str],
) -> float:
    """Mean total-variation distance of each row to its category's mean target."""
    from pro.weights.targets import total_variation

    ref = np.asarray([[mean_by_category[c][o] for o in objectives] for c in categories])
    return float(np.mean(total_variation(weights, ref)))


def run_core(out: Path, profile: Profile = DEMO, *, objectives: list[str] | None = None) -> dict[str, Any]:
    """Generate the world, train K reward models and the adapter, evaluate; returns the numbers."""
    import json

    from pro.stages import adapter as adapter_stage
    from pro.stages import reward as reward_stage
    from pro.toy.generate import generate

    started = time.perf_counter()
    toy, store = out / "toy", str(out / "store")
    generate(
        write_world(out / "world.yaml", profile, objectives=objectives), toy, seed=profile.seed, force=True
    )
    names = list(json.loads((toy / "truth.json").read_text())["objectives"])
    rm = {o: reward_stage.run(reward_spec(toy, store, o, profile)) for o in names}
    ad = adapter_stage.run(adapter_spec(toy, store, names, profile))
    ev = evaluate_adapter(join_uri(store, "adapter"), toy)
    tv = category_tv(ev["weights"], ev["categories"], ad["meanTargetByCategory"], names)
    return {
        "objectives": names,
        "rmAccuracy": {o: m["heldoutAccuracy"] for o, m in rm.items()},
        "adapterArgmaxDominant": ev["argmaxDominant"],
        "adapterCategoryTV": tv,
        "adapterHeldoutKL": ad.get("heldoutKL"),
        "meanTargetByCategory": ad["meanTargetByCategory"],
        "seconds": round(time.perf_counter() - started, 1),
    }
