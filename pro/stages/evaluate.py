"""The evaluation stage (``PolicyEvaluation``): generate with two policies on held-out prompts, judge,
compare, and commit ``metrics.json`` + ``report.html`` (+ PNG plots, ``completions.jsonl``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.spec.evaluation import PolicyEvaluation, PolicyRef

log = logging.getLogger(__name__)

KIND = "PolicyEvaluation"


def local_artifact(uri: str, marker: str = "config.json") -> Path:
    """A local directory for ``uri``: the path itself when it holds ``marker``, else the store's copy."""
    p = Path(uri)
    if (p / marker).exists():
        return p
    from pro.stages.runtime import fetch

    try:
        return fetch(uri)
    except Exception as err:  # StoreError and friends: one line for the user
        raise UserError(f"{uri}: cannot load artifact: {err}") from None


def policy_completions(
    ref: PolicyRef,
    prompts: Sequence[str],
    *,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    objectives: Sequence[str] = (),
) -> list[str]:
    """Completions of one policy (WIC policies get their weights written into the prompt)."""
    from pro.align.policy import load_policy, policy_prompt
    from pro.align.wic import weight_prefixes

    model, tokenizer, meta = load_policy(local_artifact(ref.uri))
    prefixes = [""] * len(prompts)
    if meta.get("method") == "wic":
        from pro.spec.align import WeightSettings
        from pro.stages.align import compute_weights

        settings = ref.weights or WeightSettings.model_validate(meta["weights"])
        objs = list(meta.get("objectives") or objectives)  # type: ignore[call-overload]
        w = compute_weights(settings, objs, prompts)
        prefixes = weight_prefixes(str(meta.get("template")), objs, w)
    texts = [policy_prompt(p, pre) for p, pre in zip(prompts, prefixes, strict=True)]
    from pro.align.policy import generate

    return generate(
        model, tokenizer, texts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
    )


def make_judge(
    resource: PolicyEvaluation,
) -> tuple[Callable[[Sequence[str], Sequence[str]], np.ndarray], Any]:
    """The judge as ``(prompts, texts) -> scores`` and the toy world (None for a reward-model judge)."""
    j = resource.spec.judge
    if j.kind == "world":
        from pro.stages.align import load_world

        assert j.world is not None
        world = load_world(j.world)

        def by_world(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
            return np.asarray([world.utility(p, t) for p, t in zip(prompts, texts, strict=True)])

        return by_world, world
    from pro.models.reward import RewardScorer

    assert j.uri is not None
    scorer = RewardScorer.load(local_artifact(j.uri))

    def by_rm(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        return scorer.score(prompts, texts)

    return by_rm, None


def run(resource: PolicyEvaluation, out_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate and commit; returns the metrics."""
    from pro.data import read_prompts
    from pro.eval.compare import compare
    from pro.eval.report import plot_curves, plot_weights_by_category, write_report
    from pro.stages import runtime

    spec = resource.spec
    started = time.perf_counter()
    if not Path(spec.prompts).exists():
        raise UserError(f"prompts: {spec.prompts}: no such file")
    records = read_prompts(spec.prompts)[: spec.max_prompts]
    if not records:
        raise UserError(f"prompts: {spec.prompts}: no prompts")
    prompts = [r.prompt for r in records]
    judge, world = make_judge(resource)
    categories: list[str | None] = [r.category for r in records]
    if world is not None and not any(categories):
        categories = [world.category_of(p) for p in prompts]

    gen = {
        "temperature": spec.temperature,
        "max_new_tokens": spec.max_new_tokens,
        "objectives": spec.objectives,
    }
    scores_a: list[float] = []
    scores_b: list[float] = []
    texts_a: list[str] = []
    texts_b: list[str] = []
    rows_p: list[str] = []
    rows_c: list[str | None] = []
    for s in range(spec.samples):
        ta = policy_completions(spec.policy_a, prompts, seed=spec.seed + s, **gen)  # type: ignore[arg-type]
        tb = policy_completions(spec.policy_b, prompts, seed=spec.seed + s, **gen)  # type: ignore[arg-type]
        texts_a += ta
        texts_b += tb
        scores_a += [float(x) for x in judge(prompts, ta)]
        scores_b += [float(x) for x in judge(prompts, tb)]
        rows_p += prompts
        rows_c += categories
    obj_a: dict[str, list[float]] | None = None
    obj_b: dict[str, list[float]] | None = None
    if spec.reward_models:
        from pro.align.rewards import RewardBank

        objs = spec.objectives or list(spec.reward_models)
        bank = RewardBank.load(objs, spec.reward_models)
        za, zb = bank.z(rows_p, texts_a), bank.z(rows_p, texts_b)
        obj_a = {o: list(za[:, k]) for k, o in enumerate(objs)}
        obj_b = {o: list(zb[:, k]) for k, o in enumerate(objs)}
    elif world is not None:
        obj_a = {
            o: [world.scores(p, t)[o] for p, t in zip(rows_p, texts_a, strict=True)] for o in world.objectives
        }
        obj_b = {
            o: [world.scores(p, t)[o] for p, t in zip(rows_p, texts_b, strict=True)] for o in world.objectives
        }
    name = f"{spec.policy_a.name} vs {spec.policy_b.name}"
    metrics = compare(
        scores_a,
        scores_b,
        texts_a=texts_a,
        texts_b=texts_b,
        categories=rows_c,
        objectives_a=obj_a,
        objectives_b=obj_b,
    )

    with runtime.work_dir("pro-eval-") as work:
        out = out_dir or work / "artifact"
        out.mkdir(parents=True, exist_ok=True)
        plots: list[tuple[str, Path]] = []
        curves: dict[str, Any] = {}
        sources = {spec.policy_a.name: spec.policy_a.uri, spec.policy_b.name: spec.policy_b.uri}
        for label, uri in spec.runs.items():  # extra runs, each artifact once
            if uri not in sources.values():
                sources[label] = uri
        for label, uri in sources.items():
            hist = local_artifact(uri) / "history.json"
            if hist.exists():
                curves[label] = json.loads(hist.read_text())
        for key in ("trueUtility", "reward"):
            p = plot_curves(curves, key, out / f"curve-{key}.png")
            if p is not None:
                plots.append((f"training curve: {key}", p))
        if spec.adapter:
            from pro.weights import AdapterWeights

            provider = AdapterWeights(str(local_artifact(spec.adapter, "adapter.json")))
            w = provider.weights(prompts)
            by_cat: dict[str, dict[str, float]] = {}
            for c in sorted({c or "-" for c in categories}):
                idx = [i for i, x in enumerate(categories) if (x or "-") == c]
                by_cat[c] = {o: float(w[idx, k].mean()) for k, o in enumerate(provider.objectives)}
            metrics["adapterWeightsByCategory"] = by_cat
            plots.append(
                (
                    "adapter weights per prompt category",
                    plot_weights_by_category(by_cat, provider.objectives, out / "adapter-weights.png"),
                )
            )
        metrics["seconds"] = round(time.perf_counter() - started, 2)
        (out / "metrics.json").write_text(json.dumps({"comparison": name, **metrics}, indent=2) + "\n")
        with (out / "completions.jsonl").open("w") as fh:
            for pr, a, b, sa, sb in zip(rows_p, texts_a, texts_b, scores_a, scores_b, strict=True):
                fh.write(json.dumps({"prompt": pr, "a": a, "b": b, "judgeA": sa, "judgeB": sb}) + "\n")
        write_report(out, title=f"PRO evaluation: {name}", comparisons={name: metrics}, plots=plots)
        runtime.commit(resource, out, spec.output, kind=KIND)
    return {"comparison": name, **metrics}


__all__ = ["KIND", "make_judge", "policy_completions", "run"]
