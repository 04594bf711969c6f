"""The PRO core end to end on a reduced toy world, through the CLI, into a file:// store.

One module-scoped run (3 reward models + adapter) feeds several tests; it also holds a reduced
quality bar so a regression fails CI (the full bars live in bench/quality.py and docs/quality.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pro.cli import main
from pro.spec import dump_yaml, spec_digest
from pro.testing.toy_core import Profile, adapter_spec, evaluate_adapter, reward_spec, write_world

pytestmark = pytest.mark.ml

TINY = Profile(
    pairs=600, test_pairs=200, mixed=300, mixed_test=80, heldout=80, rm_hidden=48, rm_steps=150, rm_lr=3e-3,
    adapter_hidden=32, adapter_steps=60, adapter_lr=3e-3, batch=32, threads=1,
)  # fmt: skip
OBJ = ["helpfulness", "harmlessness", "humor"]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from pro.toy.generate import generate

    root = tmp_path_factory.mktemp("core")
    os.environ["PRO_CACHE_DIR"] = str(root / "cache")
    toy = root / "toy"
    generate(write_world(root / "world.yaml", TINY), toy, seed=0)
    store = f"file://{root}/store"
    specs = {}
    for o in OBJ:
        spec = reward_spec(toy, store, o, TINY)
        path = root / f"rm-{o}.yaml"
        path.write_text(dump_yaml(spec))
        assert main(["stage", "reward", "--spec", str(path)]) == 0
        specs[o] = spec
    ad = adapter_spec(toy, store, OBJ, TINY)
    (root / "adapter.yaml").write_text(dump_yaml(ad))
    assert main(["stage", "adapter", "--spec", str(root / "adapter.yaml")]) == 0
    return {"root": root, "toy": toy, "store": store, "rm": specs, "adapter": ad}


def test_reward_artifacts_are_committed_with_stats_and_accuracy(core: dict) -> None:
    from pro.store import get_artifact, read_manifest

    for o, spec in core["rm"].items():
        manifest = read_manifest(spec.spec.output)
        assert manifest is not None
        assert manifest.producer.kind == "RewardModelTraining" and manifest.producer.name == f"rm-{o}"
        assert manifest.work_digest == spec_digest(spec.spec)
        local = get_artifact(spec.spec.output)
        stats = json.loads((local / "stats.json").read_text())
        metrics = json.loads((local / "metrics.json").read_text())
        assert stats["std"] > 0 and stats["count"] == 2 * metrics["trainPairs"]
        assert (local / "stage.yaml").exists() and (local / "config.json").exists()
        # reduced quality bar (the full one is ≥ 0.95 in docs/quality.md); measured at these sizes:
        # 0.93 / 0.945 / 0.90 (helpfulness / harmlessness / humor), so the floor is 0.85
        assert metrics["heldoutAccuracy"] >= 0.85, (o, metrics)


def test_adapter_artifact_and_reduced_quality_bar(core: dict) -> None:
    from pro.store import get_artifact, read_manifest

    uri = core["adapter"].spec.output
    assert read_manifest(uri).producer.kind == "AdapterTraining"
    local = get_artifact(uri)
    meta = json.loads((local / "adapter.json").read_text())
    assert meta["objectives"] == OBJ and meta["tau"] == 0.1
    assert (local / "head.safetensors").exists() and (local / "backbone" / "config.json").exists()
    metrics = json.loads((local / "metrics.json").read_text())
    assert set(metrics["meanTargetByCategory"]) == {"howto", "risky", "jokes", "advice"}
    ev = evaluate_adapter(uri, core["toy"])
    assert ev["argmaxDominant"] >= 0.9, ev["argmaxDominant"]
    assert np.allclose(ev["weights"].sum(1), 1, atol=1e-5)


def test_weights_cli_and_cache(core: dict, tmp_path: Path) -> None:
    from pro.weights import AdapterWeights

    uri = core["adapter"].spec.output
    out = tmp_path / "w.jsonl"
    heldout = core["toy"] / "heldout.jsonl"
    assert main(["weights", "--adapter", uri, "--prompts", str(heldout), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 80 and set(rows[0]["weights"]) == set(OBJ) and "id" in rows[0]
    assert abs(sum(rows[0]["weights"].values()) - 1) < 1e-4

    cache = tmp_path / "cache.jsonl"
    provider = AdapterWeights(uri, cache_file=cache)
    prompts = [r["prompt"] for r in rows]
    first = provider.weights(prompts + prompts[:5])
    assert provider.encoded == len(set(prompts))  # duplicates and repeats are encoded once
    again = provider.weights(prompts)
    assert provider.encoded == len(set(prompts)) and np.allclose(first[: len(prompts)], again)
    reloaded = AdapterWeights(uri, cache_file=cache)
    assert np.allclose(reloaded.weights(prompts), again) and reloaded.encoded == 0


def test_batched_scoring_matches_the_naive_loop(core: dict) -> None:
    from pro.data.schema import read_pairs
    from pro.models.adapter import LoadedAdapter
    from pro.models.reward import RewardScorer
    from pro.store import get_artifact

    pairs = read_pairs(core["toy"] / "pairs" / "humor.test.jsonl")[:40]
    scorer = RewardScorer.load(get_artifact(core["rm"]["humor"].spec.output))
    prompts, chosen = [p.prompt for p in pairs], [p.chosen for p in pairs]
    assert np.allclose(
        scorer.score(prompts, chosen, batch_size=16), scorer.score_one_by_one(prompts, chosen), atol=1e-4
    )
    adapter = LoadedAdapter.load(get_artifact(core["adapter"].spec.output))
    assert np.allclose(
        adapter.weights(prompts, batch_size=16), adapter.weights_one_by_one(prompts), atol=1e-5
    )


def test_reward_stage_under_torchrun_two_processes(core: dict, tmp_path: Path) -> None:
    from pro.store import read_manifest

    spec = reward_spec(
        core["toy"],
        f"file://{tmp_path}/store",
        "humor",
        Profile(rm_hidden=16, rm_steps=6, batch=8, threads=1),
    )
    path = tmp_path / "rm.yaml"
    path.write_text(dump_yaml(spec))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PRO_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "pro", "stage", "reward", "--spec", str(path)],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"kind"')]
    assert len(results) == 1 and results[0]["worldSize"] == 2  # only rank 0 reports
    assert read_manifest(spec.spec.output) is not None
