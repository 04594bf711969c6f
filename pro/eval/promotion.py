"""The promotion gate and the weight record, as the evaluation stage runs them.

1. Compare policy A with the gate's baseline (the lineage's promoted policy; the evaluation's own baseline
   while nothing is promoted) on the evaluation prompts, judged by the gate's judge.
2. Decide (:func:`pro.eval.gate.decide`); on a pass move ``promoted.json`` with a conditional write on the
   version the run started from.  A retry of a run that already moved it is a pass; a run that lost the race
   to another is ``Superseded`` and writes nothing.
3. Record the adapter's mean weights on the probe prompts (``runs/<runId>.json``) and how far they moved
   from the previous run's (``pro drift``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pro.eval.compare import Decoded
from pro.eval.drift import drift, weights_by_category
from pro.eval.gate import PROMOTED, REJECTED, SUPERSEDED, UNCHANGED, Decision, decide
from pro.spec.conventions import rfc3339
from pro.spec.evaluation import PolicyEvaluationSpec
from pro.spec.promotion import DriftFromPrevious, PromotedPolicy, PromotionGate, RunRecord
from pro.store.errors import PreconditionFailed
from pro.store.lineage import read_promoted, read_snapshot, run_records, write_promoted, write_run_record

#: ``(policy uri, prompts) -> its greedy and sampled completions`` with the evaluation's decoding settings
Generate = Callable[[str, Sequence[str]], Decoded]
#: ``(A's completions, B's completions) -> per-prompt results of A`` by a judge (greedy and sampled ½ each)
Compare = Callable[[Decoded, Decoded], np.ndarray]
#: ``completions -> mean score per objective``
ObjectiveMeans = Callable[[Decoded], Mapping[str, float]]


@dataclass(frozen=True)
class Compared:
    """Policy A's side of the evaluation, reused by the gate."""

    prompts: list[str]
    """One row per prompt."""
    a: Decoded
    """A's greedy and sampled completions."""
    means_a: Mapping[str, float]
    """Mean per-objective score of A's completions (empty without reward models or a world)."""
    wins_vs_own_baseline: np.ndarray
    """Per prompt: A's result over the evaluation's baseline (:func:`pro.eval.compare.decision_wins`)."""
    means_own_baseline: Mapping[str, float]


def gate_comparison(
    gate: PromotionGate,
    compared: Compared,
    *,
    generate: Generate,
    compare: Compare,
    objective_means: ObjectiveMeans,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-prompt results of A over the gate's baseline, and per-objective mean changes (A − baseline)."""
    if gate.baseline is None:
        changes = {o: compared.means_a[o] - compared.means_own_baseline[o] for o in compared.means_a}
        return compared.wins_vs_own_baseline, changes
    base = generate(gate.baseline, compared.prompts)
    means_base = objective_means(base)
    changes = {o: compared.means_a[o] - means_base[o] for o in compared.means_a if o in means_base}
    return compare(compared.a, base), changes


def promote(spec: PolicyEvaluationSpec, gate: PromotionGate, decision: Decision) -> str:
    """Move the pointer when ``decision`` passed; the final decision (Promoted, Rejected, Superseded,
    Unchanged)."""
    if gate.baseline == spec.policy_a.uri:
        return UNCHANGED
    if not decision.passed:
        return REJECTED
    pinned = read_snapshot(gate.snapshot) if gate.snapshot else None
    data = pinned.data if pinned is not None else spec.snapshot
    pointer = PromotedPolicy(
        policy=spec.policy_a.uri,
        adapter=spec.adapter,
        reward_models=dict(spec.reward_models),
        snapshot=gate.snapshot,
        data={ref: list(pins.objects) for ref, pins in data.items()},
        metrics=decision.metrics(),
        run=gate.run,
        pipeline=gate.pipeline,
        scheduled_time=gate.scheduled_time,
        promoted_at=rfc3339(datetime.now(UTC)),
        previous=gate.baseline,
    )
    try:
        write_promoted(gate.lineage, pointer, etag=gate.pointer_etag)
    except PreconditionFailed:
        current = read_promoted(gate.lineage)
        if current is not None and current[0].run == gate.run and current[0].policy == spec.policy_a.uri:
            return PROMOTED  # this run moved it already (an earlier attempt, before its commit)
        return SUPERSEDED
    return PROMOTED


def record_weights(
    spec: PolicyEvaluationSpec,
    gate: PromotionGate,
    decision: str,
    *,
    probe: Sequence[tuple[str, str | None]],
    weights: Callable[[Sequence[str]], tuple[list[str], np.ndarray]] | None,
) -> RunRecord | None:
    """Write the run's record: the adapter's weights on the probe prompts and the move since the previous
    run (None without an adapter: uniform or fixed weights do not drift)."""
    if weights is None or not probe:
        return None
    objectives, w = weights([p for p, _ in probe])
    by_category = weights_by_category(w, [c for _, c in probe], objectives)
    earlier = [r for r in run_records(gate.lineage) if r.run != gate.run]
    if gate.scheduled_time is not None:
        earlier = [r for r in earlier if (r.scheduled_time or "") <= gate.scheduled_time]
    moved = None
    if earlier:
        tv = drift(by_category, earlier[-1].weights)
        if tv is not None:
            moved = DriftFromPrevious(
                previous_run=earlier[-1].run, total_variation=round(tv, 6), moved=tv > gate.drift_threshold
            )
    record = RunRecord(
        run=gate.run,
        pipeline=gate.pipeline,
        scheduled_time=gate.scheduled_time,
        recorded_at=rfc3339(datetime.now(UTC)),
        objectives=objectives,
        prompts=len(probe),
        weights=by_category,
        decision=decision,
        drift=moved,
    )
    write_run_record(gate.lineage, record)
    return record


def summary(gate: PromotionGate, decision: Decision, final: str, record: RunRecord | None) -> dict[str, Any]:
    """``promotion.json`` of the evaluation artifact (and the pipeline's status) says this."""
    out: dict[str, Any] = {
        "decision": final,
        "baseline": gate.baseline or "own evaluation baseline",
        "run": gate.run,
        "reasons": {
            SUPERSEDED: ["another run moved the pointer after this run started; nothing written"],
            UNCHANGED: ["the run's policy is the promoted one (its alignment was reused); nothing to move"],
        }.get(final, list(decision.reasons)),
        **decision.metrics(),
    }
    if record is not None and record.drift is not None:
        out["drift"] = record.drift.to_dict()
    return out


def run_gate(
    spec: PolicyEvaluationSpec,
    gate: PromotionGate,
    compared: Compared,
    *,
    generate: Generate,
    compare: Compare,
    objective_means: ObjectiveMeans,
    probe: Sequence[tuple[str, str | None]],
    weights: Callable[[Sequence[str]], tuple[list[str], np.ndarray]] | None,
) -> dict[str, Any]:
    """Compare, decide, move the pointer on a pass, record the weights; what ``promotion.json`` says."""
    wins, changes = gate_comparison(
        gate, compared, generate=generate, compare=compare, objective_means=objective_means
    )
    decision = decide(wins, gate.rule, changes)
    final = promote(spec, gate, decision)
    record = record_weights(spec, gate, final, probe=probe, weights=weights)
    return summary(gate, decision, final, record)


__all__ = ["Compared", "gate_comparison", "promote", "record_weights", "run_gate", "summary"]
