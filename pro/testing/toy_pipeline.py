"""The toy pipeline (``examples/toy/pipeline.yaml``) scaled down, on a small generated toy world.

Tests and ``bench/overhead.py`` run the real example file with its ``toy-out`` paths
moved and its step counts reduced, so the example itself is what gets exercised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "toy" / "pipeline.yaml"


@dataclass(frozen=True)
class Scale:
    """Step counts and sizes of a scaled-down toy pipeline."""

    rm_steps: int = 20
    adapter_steps: int = 20
    init_steps: int = 20
    align_steps: int = 4
    checkpoint_every: int = 2
    eval_prompts: int = 16
    batch: int = 16


#: a few seconds of training per stage: for tests of the orchestration
TINY = Scale()
#: every stage does one step on 8 prompts: nothing but start-up (bench/overhead.py)
MINIMAL = Scale(
    rm_steps=1, adapter_steps=1, init_steps=1, align_steps=1, checkpoint_every=0, eval_prompts=4, batch=8
)


def small_world(out: Path, *, pairs: int = 200, seed: int = 0) -> Path:
    """Generate a small toy world into ``out`` (once: kept if it is already there)."""
    from pro.testing.toy_core import Profile, write_world
    from pro.toy.generate import generate

    if (out / "summary.json").exists():
        return out
    profile = Profile(pairs=pairs, test_pairs=50, mixed=pairs, mixed_test=50, heldout=50, seed=seed)
    generate(write_world(out.parent / f"{out.name}-world.yaml", profile), out, seed=seed, force=True)
    return out


def pipeline_doc(toy: Path, store: str, scale: Scale = TINY, *, name: str = "toy") -> dict[str, Any]:
    """The example pipeline as a dict, reading ``toy`` and writing to ``store``, scaled by ``scale``."""
    text = EXAMPLE.read_text().replace("toy-out/store", store).replace("toy-out", str(toy))
    doc: dict[str, Any] = yaml.safe_load(text)
    doc["metadata"]["name"] = name
    spec = doc["spec"]
    spec["rewardModel"]["training"] |= {"maxSteps": scale.rm_steps, "perDeviceBatchSize": scale.batch}
    spec["adapter"]["training"] |= {"maxSteps": scale.adapter_steps, "perDeviceBatchSize": scale.batch}
    align = spec["alignment"]
    align["init"] |= {"steps": scale.init_steps, "batchSize": scale.batch}
    align["training"] |= {"maxSteps": scale.align_steps, "perDeviceBatchSize": 8}
    align["checkpointEvery"] = scale.checkpoint_every
    align["maxPrompts"] = 32
    spec["evaluation"]["maxPrompts"] = scale.eval_prompts
    return doc
