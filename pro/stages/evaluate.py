"""The evaluation stage (``PolicyEvaluation``): decode two policies on held-out prompts (greedy and
sampled), judge, compare, and commit ``metrics.json``, a self-contained ``report.html`` and
``completions.jsonl`` (+ ``promotion.json`` behind a promotion gate).

Bad input fails before any model is loaded or anything is written: prompts with no rows, a judge that
cannot be loaded (one line naming its field).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.errors import UserError
from pro.eval.compare import Decoded, Judged, decision_wins
from pro.eval.judges import LoadedJudge, load_judge
from pro.eval.promotion import Compared
from pro.spec.evaluation import PolicyEvaluation, PolicyEvaluationSpec, PolicyRef
from pro.stages import runtime

log = logging.getLogger(__name__)

#: ``(prompts, completions) -> {objective: scores}``
Scores = Callable[[Sequence[str], Sequence[str]], dict[str, np.ndarray]]
#: random and worst sample completions shown per category
RANDOM_SAMPLES = 2


def objective_scorer(spec: PolicyEvaluationSpec, judge: LoadedJudge) -> Scores | None:
    """Per-objective scores of completions: z-scored rewards of the reward models, else the toy world's
    true per-objective scores; None when there is neither."""
    if spec.reward_models:
        from pro.weights.targets import RewardBank

        objs = spec.objectives or list(spec.reward_models)
        bank = RewardBank.load(objs, spec.reward_models)

        def by_models(prompts: Sequence[str], texts: Sequence[str]) -> dict[str, np.ndarray]:
            z = bank.z(list(prompts), list(texts))
            return {o: np.asarray(z[:, k], dtype=np.float64) for k, o in enumerate(objs)}

        return by_models
    world = judge.world
    if world is not None:

        def by_world(prompts: Sequence[str], texts: Sequence[str]) -> dict[str, np.ndarray]:
            rows = [world.scores(p, t) for p, t in zip(prompts, texts, strict=True)]
            return {o: np.asarray([r[o] for r in rows]) for o in world.objectives}

        return by_world
    return None


def decode(
    spec: PolicyEvaluationSpec,
    ref: PolicyRef | str,
    prompts: Sequence[str],
    on_batch: Callable[[int], None] | None = None,
) -> tuple[Decoded, float | None]:
    """A policy's greedy and sampled completions with the evaluation's settings (``on_batch``: how many
    completions each batch added)."""
    from pro.align.generation import decode as decode_policy

    uri, weights = (ref, None) if isinstance(ref, str) else (ref.uri, ref.weights)
    d = decode_policy(uri, prompts, samples=spec.samples, temperature=spec.temperature, weights=weights,
                      max_new_tokens=spec.max_new_tokens, seed=spec.seed, on_batch=on_batch)  # fmt: skip
    return Decoded(list(prompts), d.greedy, d.sampled), d.temperature


def judge_wins(judge: LoadedJudge, a: Decoded, b: Decoded) -> tuple[np.ndarray, np.ndarray | None]:
    """A's results over B by the judge: greedy [N] and sampled [S, N] (each judged in one batched call)."""
    n = len(a.prompts)
    greedy = judge.wins(a.prompts, a.greedy, b.greedy)
    if not a.samples:
        return greedy, None
    flat_a = [t for row in a.sampled for t in row]
    flat_b = [t for row in b.sampled for t in row]
    return greedy, judge.wins(a.prompts * a.samples, flat_a, flat_b).reshape(a.samples, n)


def judged(name: str, d: Decoded, judge: LoadedJudge, per_objective: Scores | None) -> Judged:
    """What the judge and the per-objective scorer say about one policy's completions."""
    n, s = len(d.prompts), d.samples
    flat = [t for row in d.sampled for t in row]
    scores = sampled_scores = None
    if judge.pointwise:
        both = judge.score(d.prompts * (1 + s), d.greedy + flat)
        scores, sampled_scores = both[:n], both[n:].reshape(s, n)
    objectives = sampled_objectives = None
    if per_objective is not None:
        both_o = per_objective(d.prompts * (1 + s), d.greedy + flat)
        objectives = {o: v[:n] for o, v in both_o.items()}
        sampled_objectives = {o: v[n:].reshape(s, n) for o, v in both_o.items()}
    return Judged(
        name, d, scores, sampled_scores if s else None, objectives, sampled_objectives if s else None
    )


def gate(
    resource: PolicyEvaluation, compared: Compared, judge: LoadedJudge, per_objective: Scores | None
) -> dict[str, Any]:
    """The promotion gate on this evaluation (:mod:`pro.eval.promotion`): what ``promotion.json`` says."""
    from pro.data import read_prompts
    from pro.eval.promotion import run_gate

    spec = resource.spec
    assert spec.promotion is not None
    g = spec.promotion
    gate_judge = load_judge(g.judge) if g.judge is not None else judge

    def generate(uri: str, prompts: Sequence[str]) -> Decoded:
        return decode(spec, uri, prompts)[0]

    def means(d: Decoded) -> dict[str, float]:
        if per_objective is None:
            return {}
        flat = d.greedy + [t for row in d.sampled for t in row]
        scored = per_objective(d.prompts * (1 + d.samples), flat)
        return {o: float(np.mean(v)) for o, v in scored.items()}

    def compare(a: Decoded, b: Decoded) -> np.ndarray:
        return decision_wins(*judge_wins(gate_judge, a, b))

    weights = None
    if spec.adapter:
        from pro.weights import AdapterWeights

        provider = AdapterWeights(spec.adapter)

        def weights(prompts: Sequence[str]) -> tuple[list[str], np.ndarray]:
            return provider.objectives, provider.weights(list(prompts))

    probe = [(r.prompt, r.category) for r in read_prompts(g.probe)]
    return run_gate(spec, g, compared, generate=generate, compare=compare, objective_means=means, probe=probe,
                    weights=weights)  # fmt: skip


def upstream(spec: PolicyEvaluationSpec) -> dict[str, Any]:
    """The reward models' held-out accuracy and the adapter's held-out KL/TV/argmax, from their artifacts'
    ``metrics.json``."""
    from pro.store import local_artifact

    def metrics_of(uri: str) -> dict[str, Any]:
        try:
            path = local_artifact(uri, "config.json") / runtime.METRICS_FILE
            data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        except Exception:  # an artifact without metrics (a hand-made one) has nothing to show
            return {}
        return data

    out: dict[str, Any] = {}
    rms = {o: metrics_of(u) for o, u in spec.reward_models.items()}
    if any(rms.values()):
        out["rewardModels"] = {o: {k: m[k] for k in ("heldoutAccuracy", "heldoutPairs", "steps") if k in m}
                               for o, m in rms.items()}  # fmt: skip
    if spec.adapter:
        m = metrics_of(spec.adapter)
        if m:
            keys = ("heldoutKL", "heldoutTV", "heldoutArgmaxAgreement", "heldoutRows")
            out["adapter"] = {k: m[k] for k in keys if k in m}
    return out


def sample_rows(
    categories: Sequence[str], a: Judged, b: Judged, wins: np.ndarray, *, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Per category: ``RANDOM_SAMPLES`` random greedy rows and the worst for A (its lowest result, then
    the largest score gap against it)."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {}
    gap = (a.scores - b.scores) if a.scores is not None and b.scores is not None else np.zeros(len(wins))
    for c in sorted(set(categories)):
        idx = [i for i, x in enumerate(categories) if x == c]
        worst = min(idx, key=lambda i: (wins[i], gap[i]))
        picks = [("worst", worst)] + [("random", i) for i in rng.sample(idx, min(RANDOM_SAMPLES, len(idx)))]
        out[c] = [
            {
                "kind": kind,
                "prompt": a.decoded.prompts[i],
                "texts": {a.name: a.decoded.greedy[i], b.name: b.decoded.greedy[i]},
                "scores": {
                    a.name: None if a.scores is None else float(a.scores[i]),
                    b.name: None if b.scores is None else float(b.scores[i]),
                },
                "winA": float(wins[i]),
            }
            for kind, i in picks
        ]
    return out


def run(resource: PolicyEvaluation) -> dict[str, Any]:
    """Evaluate and commit; returns the metrics."""
    from pro.data import read_prompts
    from pro.eval.compare import compare
    from pro.eval.report import curves_image, heatmap_image, write_report
    from pro.models.quiet import quiet_libraries

    quiet_libraries()
    spec = resource.spec
    started = time.perf_counter()
    records = read_prompts(spec.prompts)[: spec.max_prompts]
    if not records:
        raise UserError(f"prompts: {spec.prompts}: no rows")
    judge = load_judge(spec.judge)  # before anything is generated: a judge that cannot load fails at once
    prompts = [r.prompt for r in records]
    categories = [r.category or (judge.world.category_of(r.prompt) if judge.world else "-") for r in records]

    # every completion of both policies, greedy and sampled, counts toward pro run's step/total and rate
    generated = runtime.Counted(2 * len(prompts) * (1 + spec.samples), "generating")
    da, temperature = decode(spec, spec.policy_a, prompts, generated.add)
    db, _ = decode(spec, spec.policy_b, prompts, generated.add)
    runtime.report_phase("judging")
    greedy_wins, sampled_wins = judge_wins(judge, da, db)
    per_objective = objective_scorer(spec, judge)
    ja = judged(spec.policy_a.name, da, judge, per_objective)
    jb = judged(spec.policy_b.name, db, judge, per_objective)
    optimum = np.asarray([judge.world.optimum_of(p) for p in prompts]) if judge.world is not None else None
    metrics = compare(ja, jb, categories=categories, greedy_wins=greedy_wins, sampled_wins=sampled_wins,
                      optimum=optimum, temperature=temperature)  # fmt: skip
    metrics["judge"] = {"kind": spec.judge.kind, "source": spec.judge.source}
    metrics["samples"] = sample_rows(categories, ja, jb, greedy_wins, seed=spec.seed)
    metrics["upstream"] = upstream(spec)

    heatmap = curves = None
    if spec.adapter:
        from pro.weights import AdapterWeights
        from pro.weights.targets import mean_by_category

        provider = AdapterWeights(spec.adapter)
        by_cat = mean_by_category(categories, provider.weights(prompts), provider.objectives)
        metrics["adapterWeightsByCategory"] = by_cat
        truth = None
        if judge.world is not None and list(judge.world.objectives) == list(provider.objectives):
            truth = {c: judge.world.category_weights(c) for c in by_cat if c in judge.world.categories}
            metrics["trueWeightsByCategory"] = truth
        heatmap = heatmap_image(by_cat, provider.objectives, truth)
    histories = training_curves(spec)
    if histories:
        curves = curves_image(histories)
    if spec.promotion is not None:
        oa, ob = ja.objectives or {}, jb.objectives or {}
        sa, sb = ja.sampled_objectives or {}, jb.sampled_objectives or {}
        compared = Compared(
            prompts=prompts,
            a=da,
            means_a={o: float(np.mean(np.concatenate([oa[o].ravel(), sa[o].ravel() if o in sa else []]))) for o in oa},
            wins_vs_own_baseline=decision_wins(greedy_wins, sampled_wins),
            means_own_baseline={o: float(np.mean(np.concatenate([ob[o].ravel(), sb[o].ravel() if o in sb else []])))
                                for o in ob},
        )  # fmt: skip
        metrics["promotion"] = gate(resource, compared, judge, per_objective)
    metrics["seconds"] = round(time.perf_counter() - started, 2)

    with runtime.work_dir("pro-eval-") as work:
        out = work / "artifact"
        out.mkdir()
        if "promotion" in metrics:
            (out / "promotion.json").write_text(json.dumps(metrics["promotion"], indent=2) + "\n")
        runtime.write_metrics(out, metrics)
        write_completions(out / "completions.jsonl", ja, jb, greedy_wins, sampled_wins)
        write_report(
            out, metrics, title=f"PRO evaluation: {metrics['comparison']}", curves=curves, heatmap=heatmap
        )
        runtime.commit(resource, out, spec.output)
    return metrics


def training_curves(spec: PolicyEvaluationSpec) -> dict[str, list[dict[str, float]]]:
    """``history.json`` of each policy's alignment run and of the extra ``runs`` (each artifact once)."""
    from pro.align.policy import HISTORY_FILE
    from pro.store import local_artifact

    sources = {spec.policy_a.name: spec.policy_a.uri, spec.policy_b.name: spec.policy_b.uri}
    for label, uri in spec.runs.items():
        if uri not in sources.values():
            sources[label] = uri
    curves: dict[str, list[dict[str, float]]] = {}
    for label, uri in sources.items():
        hist = local_artifact(uri, "config.json") / HISTORY_FILE
        if hist.exists():
            curves[label] = json.loads(hist.read_text())
    return curves


def write_completions(
    path: Path, a: Judged, b: Judged, greedy_wins: np.ndarray, sampled_wins: np.ndarray | None
) -> None:
    """One line per prompt and decoding: the prompt, both completions, the judge's scores and A's result."""

    def score(j: Judged, row: int, sample: int | None) -> float | None:
        s = j.scores if sample is None else j.sampled_scores[sample] if j.sampled_scores is not None else None
        return None if s is None else float(s[row])

    with path.open("w") as fh:
        for s in [None, *range(a.decoded.samples)]:
            ta = a.decoded.greedy if s is None else a.decoded.sampled[s]
            tb = b.decoded.greedy if s is None else b.decoded.sampled[s]
            wins: Mapping[int, float] | np.ndarray = greedy_wins if s is None else sampled_wins[s]  # type: ignore[index]
            for i, p in enumerate(a.decoded.prompts):
                row = {"prompt": p, "decoding": "greedy" if s is None else f"sample-{s}", a.name: ta[i], b.name: tb[i],
                       f"score.{a.name}": score(a, i, s), f"score.{b.name}": score(b, i, s), "winA": float(wins[i])}  # fmt: skip
                fh.write(json.dumps(row) + "\n")


__all__ = ["decode", "gate", "judge_wins", "judged", "objective_scorer", "run", "upstream"]
