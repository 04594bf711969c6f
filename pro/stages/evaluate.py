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
from pro.eval.gate import row_wins
from pro.eval.promotion import Compared
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.judge import Judge
from pro.stages import runtime

log = logging.getLogger(__name__)


def make_judge(j: Judge) -> tuple[Callable[[Sequence[str], Sequence[str]], np.ndarray], Any]:
    """The judge as ``(prompts, texts) -> scores`` and the toy world (None for a reward-model judge)."""
    if j.kind == "world":
        from pro.toy import World

        assert j.world is not None
        world = World.load(j.world)

        def by_world(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
            return np.asarray([world.utility(p, t) for p, t in zip(prompts, texts, strict=True)])

        return by_world, world
    from pro.models.reward import RewardScorer
    from pro.store import local_artifact

    assert j.uri is not None
    scorer = RewardScorer.load(local_artifact(j.uri, "config.json"))

    def by_rm(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        return scorer.score(prompts, texts)

    return by_rm, None


Scores = Callable[[Sequence[str], Sequence[str]], dict[str, list[float]]]


def objective_scorer(resource: PolicyEvaluation, world: Any) -> Scores | None:
    """Per-objective scores of completions: z-scored rewards of the reward models, else the toy world's
    true per-objective scores; None when there is neither."""
    spec = resource.spec
    if spec.reward_models:
        from pro.weights.targets import RewardBank

        objs = spec.objectives or list(spec.reward_models)
        bank = RewardBank.load(objs, spec.reward_models)

        def by_models(prompts: Sequence[str], texts: Sequence[str]) -> dict[str, list[float]]:
            z = bank.z(list(prompts), list(texts))
            return {o: [float(x) for x in z[:, k]] for k, o in enumerate(objs)}

        return by_models
    if world is not None:

        def by_world(prompts: Sequence[str], texts: Sequence[str]) -> dict[str, list[float]]:
            rows = [world.scores(p, t) for p, t in zip(prompts, texts, strict=True)]
            return {o: [r[o] for r in rows] for o in world.objectives}

        return by_world
    return None


def gate(resource: PolicyEvaluation, compared: Compared, per_objective: Scores | None) -> dict[str, Any]:
    """The promotion gate on this evaluation (:mod:`pro.eval.promotion`): what ``promotion.json`` says."""
    from pro.align.generation import complete
    from pro.data import read_prompts
    from pro.eval.promotion import run_gate

    spec = resource.spec
    assert spec.promotion is not None
    g = spec.promotion
    judge = make_judge(g.judge)[0] if g.judge is not None else make_judge(spec.judge)[0]
    distinct = list(dict.fromkeys(compared.prompts))

    def generate(uri: str, _: Sequence[str]) -> list[str]:  # the same rows as policy A's
        texts: list[str] = []
        for s in range(spec.samples):
            texts += complete(uri, distinct, temperature=spec.temperature, max_new_tokens=spec.max_new_tokens,
                              seed=spec.seed + s).texts  # fmt: skip
        return texts

    def means(prompts: Sequence[str], texts: Sequence[str]) -> dict[str, float]:
        scored = per_objective(prompts, texts) if per_objective else {}
        return {o: float(np.mean(v)) for o, v in scored.items()}

    weights = None
    if spec.adapter:
        from pro.weights import AdapterWeights

        provider = AdapterWeights(spec.adapter)

        def weights(prompts: Sequence[str]) -> tuple[list[str], np.ndarray]:
            return provider.objectives, provider.weights(list(prompts))

    probe = [(r.prompt, r.category) for r in read_prompts(g.probe)]
    return run_gate(spec, g, compared, generate=generate, judge=judge, objective_means=means, probe=probe,
                    weights=weights)  # fmt: skip


def run(resource: PolicyEvaluation) -> dict[str, Any]:
    """Evaluate and commit; returns the metrics."""
    from pro.align.generation import complete
    from pro.align.policy import HISTORY_FILE
    from pro.data import read_prompts
    from pro.eval.compare import compare
    from pro.eval.report import plot_curves, plot_weights_by_category, write_report
    from pro.store import local_artifact

    spec = resource.spec
    started = time.perf_counter()
    records = read_prompts(spec.prompts)[: spec.max_prompts]
    if not records:
        raise UserError(f"prompts: {spec.prompts}: no prompts")
    prompts = [r.prompt for r in records]
    judge, world = make_judge(spec.judge)
    categories: list[str | None] = [r.category for r in records]
    if world is not None and not any(categories):
        categories = [world.category_of(p) for p in prompts]

    scores_a: list[float] = []
    scores_b: list[float] = []
    texts_a: list[str] = []
    texts_b: list[str] = []
    rows_p: list[str] = []
    rows_c: list[str | None] = []
    for s in range(spec.samples):
        ta, tb = (
            complete(ref.uri, prompts, weights=ref.weights, temperature=spec.temperature,
                     max_new_tokens=spec.max_new_tokens, seed=spec.seed + s).texts
            for ref in (spec.policy_a, spec.policy_b)
        )  # fmt: skip
        texts_a += ta
        texts_b += tb
        scores_a += [float(x) for x in judge(prompts, ta)]
        scores_b += [float(x) for x in judge(prompts, tb)]
        rows_p += prompts
        rows_c += categories
    per_objective = objective_scorer(resource, world)
    obj_a = per_objective(rows_p, texts_a) if per_objective else None
    obj_b = per_objective(rows_p, texts_b) if per_objective else None
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
        out = work / "artifact"
        out.mkdir()
        plots: list[tuple[str, Path]] = []
        curves: dict[str, Any] = {}
        sources = {spec.policy_a.name: spec.policy_a.uri, spec.policy_b.name: spec.policy_b.uri}
        for label, uri in spec.runs.items():  # extra runs, each artifact once
            if uri not in sources.values():
                sources[label] = uri
        for label, uri in sources.items():
            hist = local_artifact(uri, "config.json") / HISTORY_FILE
            if hist.exists():
                curves[label] = json.loads(hist.read_text())
        for key in ("trueUtility", "reward"):
            p = plot_curves(curves, key, out / f"curve-{key}.png")
            if p is not None:
                plots.append((f"training curve: {key}", p))
        if spec.adapter:
            from pro.weights import AdapterWeights

            provider = AdapterWeights(spec.adapter)
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
        if spec.promotion is not None:
            compared = Compared(
                prompts=rows_p,
                texts_a=texts_a,
                scores_a=scores_a,
                means_a={o: float(np.mean(v)) for o, v in (obj_a or {}).items()},
                wins_vs_own_baseline=row_wins(scores_a, scores_b),
                means_own_baseline={o: float(np.mean(v)) for o, v in (obj_b or {}).items()},
            )
            metrics["promotion"] = gate(resource, compared, per_objective)
            (out / "promotion.json").write_text(json.dumps(metrics["promotion"], indent=2) + "\n")
        metrics["seconds"] = round(time.perf_counter() - started, 2)
        runtime.write_metrics(out, {"comparison": name, **metrics})
        with (out / "completions.jsonl").open("w") as fh:
            for pr, a, b, sa, sb in zip(rows_p, texts_a, texts_b, scores_a, scores_b, strict=True):
                fh.write(json.dumps({"prompt": pr, "a": a, "b": b, "judgeA": sa, "judgeB": sb}) + "\n")
        write_report(out, title=f"PRO evaluation: {name}", comparisons={name: metrics}, plots=plots)
        runtime.commit(resource, out, spec.output)
    return {"comparison": name, **metrics}


__all__ = ["gate", "make_judge", "objective_scorer", "run"]
