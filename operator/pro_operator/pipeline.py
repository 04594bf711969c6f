"""The pipeline controller: an AlignmentPipeline → one stage resource per stage, created when the stage's
inputs are committed.

When a run starts (:func:`started`, once per generation): its data references are pinned and written once
to ``<run root>/snapshot.json`` with the lineage's promoted pointer version, and the stages an earlier run of
the same lineage committed for the same work are reused (:func:`pro.runs.prepare`, the same code as ``pro
run``) — unless the cluster cannot run its jobs (``spec.kubernetes.jobBackend`` not served: the pipeline
fails at once, naming the field and what is installed) or the platform's guardrails do not allow what they
would ask (:mod:`pro_operator.tenancy`: the same, naming its ``spec.`` field and the rule).  A stage resource
of its name that another pipeline owns is never taken over: the pipeline fails, naming it.  Then one pass: :func:`observe` (the pipeline and its stage resources from the cache) → :func:`decide`
(the pure planner on the composed graph; the store is asked only about a stage about to start, which may be
committed already) → :func:`act` (create stage resources, carry a changed spec or ``suspend`` into them, index
the work of stages that committed) → :func:`pipeline_status` (pure, typed; the promotion gate's decision read
from the evaluation) and :func:`pipeline_events` (pure: from the old and the new status) →
:func:`~pro_operator.publish.publish`.  The stage resources retry their own jobs, so here a failed stage is
final (retry limit 0 at this level).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pro.data.errors import DataError
from pro.errors import UserError
from pro.planner import (
    Graph,
    Observed,
    Plan,
    RetryPolicy,
    RunState,
    StageDecision,
    StagePhase,
    StageStatus,
    StartStage,
    plan,
)
from pro.planner.compose import EVAL, ComposedStage, Composition, Reuse, lineage_root, stage_execution
from pro.render.jobs import stage_resource_object
from pro.runs import (
    PreparedRun,
    data_status,
    evaluation_outcome,
    prepare,
    promotion_outcome,
    result_line,
    resumed,
    transient,
)
from pro.spec import SpecError
from pro.spec.conventions import DEFAULT_NAMESPACE, SCHEDULED_AT, WORK_DIGEST, parse_rfc3339, rfc3339
from pro.spec.kinds import PIPELINE_KIND, kind_named
from pro.spec.status import (
    AlignmentPipelineStatus,
    Condition,
    EvaluationStatus,
    PipelinePhase,
    PromotionStatus,
    StageRunStatus,
    StageSummary,
    WeightDriftStatus,
)
from pro.store import StoreError
from pro.store.lineage import read_snapshot, record_work
from pro_operator import clock, tenancy
from pro_operator.backends import Refusal, choose
from pro_operator.conditions import set_conditions
from pro_operator.context import Context
from pro_operator.events import Event
from pro_operator.kube import Conflict, controller, custom_ref, not_ours
from pro_operator.publish import publish, read_status
from pro_operator.specs import memo_key, parsed, publish_invalid, refused_status

log = logging.getLogger("pro_operator.pipeline")

Obj = dict[str, Any]
PLURAL = kind_named(PIPELINE_KIND).plural
#: a running stage's phase as its stage resource reports it, when it says more than "Running"
OWN_PHASES = (StagePhase.BACKOFF, StagePhase.SUSPENDED, StagePhase.PENDING, StagePhase.QUEUED)
#: phases of the stages "what runs now" lists
ACTIVE = (StagePhase.RUNNING, StagePhase.BACKOFF, StagePhase.PENDING, StagePhase.QUEUED)
ENDED = (PipelinePhase.SUCCEEDED, PipelinePhase.FAILED)
#: a store that cannot be reached when the run starts is asked again this much later
STORE_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Child:
    """A stage resource of the pipeline (created by it, owned by it)."""

    body: Obj
    status: StageRunStatus | None
    current: bool
    """It carries the stage's current work (its work-digest annotation); else it is about to be updated."""


@dataclass(frozen=True)
class PipelineObservation:
    """A pipeline, its status and its stage resources, as observed."""

    run: PreparedRun
    """What the run pinned and reuses."""
    composition: Composition
    graph: Graph
    """The composition's graph with no retries (the stage resources retry their own jobs)."""
    generation: int | None
    uid: str
    old: AlignmentPipelineStatus | None
    children: Mapping[str, Child]
    stages: Mapping[str, StageStatus]
    """Every stage as the planner takes it."""
    taken: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Stages whose resource name another object's stage resource has (not an earlier pipeline of this
    name, whose are about to be garbage-collected): why, naming it."""

    @property
    def suspend(self) -> bool:
        return bool(self.composition.pipeline.spec.suspend)


def reconcile_pipeline(ctx: Context, namespace: str, name: str) -> datetime | None:
    """One pass of the pipeline controller; returns when to look again (None: on the next event)."""
    body = ctx.cache.get(PLURAL, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    now = clock.now()
    stamp = rfc3339(now)
    ref = custom_ref(PLURAL, namespace, name)
    try:
        pipeline = parsed(ctx, PIPELINE_KIND, body)
    except SpecError as err:
        publish_invalid(
            ctx, body, ref, err, AlignmentPipelineStatus, condition="Valid", now=stamp,
            phase=PipelinePhase.INVALID, stage="",
        )  # fmt: skip
        return None
    old = read_status(AlignmentPipelineStatus, body)
    backend = choose(
        pipeline.spec.kubernetes, ctx.jobs, ran=old.job_backend if old else None, field_prefix="spec."
    )
    if isinstance(backend, Refusal):
        return refuse(ctx, body, ref, backend, now)
    done = old is not None and old.phase is PipelinePhase.SUCCEEDED
    if not (done and old is not None and old.observed_generation == body["metadata"].get("generation")):
        try:  # what its stages' jobs would ask of the cluster: the platform's guardrails allow it
            ctx.memo.get(
                ("allowed", memo_key(PIPELINE_KIND, body)), lambda: allowed(ctx, namespace, pipeline)
            )
        except NotAllowed as err:
            return refuse(ctx, body, ref, err.refusal, now)
    try:
        run, graph = ctx.memo.get(
            ("run", memo_key(PIPELINE_KIND, body)), lambda: started(ctx, pipeline, body)
        )
    except UserError as err:  # the run cannot start: its data, the store
        return unavailable(ctx, body, ref, err, now)
    try:
        seen = observe(ctx, body, run, graph)
        if seen.taken:  # another pipeline's stage resource has the name: never taken over
            why = "; ".join(f"stage {s}: {t}" for s, t in seen.taken.items())
            return refuse(ctx, body, ref, Refusal("NotOwned", f"{why}: rename this pipeline"), now)
        decided = decide(ctx, seen, now)
        created = act(ctx, seen, decided, namespace)
    except UserError as err:  # found while acting
        if transient(err):
            raise  # a store that cannot be reached now: the work queue asks again, backing off
        return unavailable(ctx, body, ref, err, now)
    status = pipeline_status(
        seen, decided, now, gate=gate_outcome(ctx, seen, decided.phase), job_backend=backend.kind,
        evaluation=evaluation_of(ctx, seen, decided.phase),
    )  # fmt: skip
    publish(ctx, body, ref, status, events=[*created, *pipeline_events(seen.old, status)], now=stamp)
    return decided.requeue_at


def refuse(ctx: Context, body: Obj, ref: Any, refusal: Refusal, now: datetime) -> datetime | None:
    """A pipeline whose jobs this cluster cannot run, or the platform does not allow: Failed at once with
    the refusal (a Warning Event when it is new), nothing pinned or created; it is looked at again on its
    next change (or when the refusal says)."""
    old = read_status(AlignmentPipelineStatus, body)
    stamp = rfc3339(now)
    status = refused_status(
        AlignmentPipelineStatus, body, condition="Failed", reason=refusal.reason, why=refusal.message,
        now=stamp, phase=PipelinePhase.FAILED, start_time=(old.start_time if old else None) or stamp,
        completion_time=(old.completion_time if old else None) or stamp,
    )  # fmt: skip
    new = old is None or not any(
        c.reason == refusal.reason and c.message == refusal.message for c in old.conditions
    )
    publish(
        ctx,
        body,
        ref,
        status,
        events=[Event(refusal.reason, refusal.message, True)] if new else [],
        now=stamp,
    )
    if refusal.recheck_seconds:  # it depends on something outside the pipeline (a Secret's labels)
        return now + timedelta(seconds=refusal.recheck_seconds)
    return None  # looked at again on its next change


class NotAllowed(Exception):
    """The guardrails refuse the pipeline (an exception, so that only an allowed spec is remembered)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def allowed(ctx: Context, namespace: str, pipeline: Any) -> bool:
    """True when the guardrails allow what the pipeline's stages would ask, named by the pipeline's own
    field paths (``spec.image``, ``spec.kubernetes.…``, ``spec.storage.credentialsSecret``); else
    :class:`NotAllowed`."""
    refusal = tenancy.refusal(ctx, namespace, stage_execution(pipeline.spec), field_prefix="spec.")
    if refusal is not None:
        raise NotAllowed(refusal)
    return True


def started(ctx: Context, pipeline: Any, body: Obj) -> tuple[PreparedRun, Graph]:
    """The run as it started (data pinned once, earlier work reused), and its graph with no retries.

    The first pass of a generation prepares the run (:func:`pro.runs.prepare`: store I/O); a later one (a
    restarted operator, a spec evicted from the memo) rebuilds it from the snapshot and the reused stages
    its status recorded.  The operator pins only ``s3://`` references: a local path is the stage pod's
    own, pinned when the stage reads it."""
    meta = body["metadata"]
    old = read_status(AlignmentPipelineStatus, body)
    snapshot = ctx.snapshots.get(meta.get("uid", ""))
    if old is not None and old.data is not None and old.observed_generation == meta.get("generation"):
        snapshot = snapshot or read_snapshot(old.data.snapshot)
    if snapshot is not None and old is not None and old.observed_generation == meta.get("generation"):
        reused = {s.name: Reuse(s.artifact or "", s.reused_from) for s in old.stages if s.reused_from}
        run = resumed(pipeline, snapshot, reused)
    else:
        scheduled = parse_rfc3339((meta.get("annotations") or {}).get(SCHEDULED_AT))
        run = prepare(pipeline, scheduled, reachable=lambda ref: ref.startswith("s3://"))
    ctx.snapshots[meta.get("uid", "")] = run.snapshot
    return run, no_retries(run.composition.graph)


def no_retries(graph: Graph) -> Graph:
    """The graph with retry limit 0: the stage resources retry their own jobs."""
    return Graph(tuple(dataclasses.replace(n, retry=RetryPolicy(limit=0)) for n in graph.stages))


def unavailable(ctx: Context, body: Obj, ref: Any, err: UserError, now: datetime) -> datetime | None:
    """A run that cannot go on for a reason found while acting: a store that cannot be reached now is asked
    again later; anything else (a reference that resolves to nothing, a store that refuses) fails the
    pipeline at once, naming it — one condition, one Event, no retry until the spec changes."""
    stamp = rfc3339(now)
    again = transient(err)
    reason = (
        "StoreUnavailable"
        if again
        else "DataUnavailable"
        if isinstance(err, DataError)
        else "PermanentFailure"
    )
    old = read_status(AlignmentPipelineStatus, body)
    generation = body["metadata"].get("generation")
    phase = (old.phase if old else PipelinePhase.PENDING) if again else PipelinePhase.FAILED
    conditions = set_conditions(
        old.conditions if old else [],
        [("DataPinned", False, reason, str(err)) if isinstance(err, (DataError, StoreError)) else
         ("Running", False, reason, str(err)),
         ("Failed", not again, "NotFailed" if again else reason, "" if again else str(err))],
        now=stamp, generation=generation,
    )  # fmt: skip
    status = AlignmentPipelineStatus(
        observed_generation=generation,
        phase=phase,
        conditions=conditions,
        start_time=(old.start_time if old else None) or stamp,
        completion_time=None if again else (old.completion_time if old else None) or stamp,
    )
    published = old is None or not any(c.reason == reason and c.message == str(err) for c in old.conditions)
    events = [Event(reason, str(err), True)] if published else []
    publish(ctx, body, ref, status, events=events, now=stamp)
    return now + timedelta(seconds=STORE_RETRY_SECONDS) if again else None


# ----------------------------------------------------------------------------------------- observe
def observe(ctx: Context, body: Obj, run: PreparedRun, graph: Graph) -> PipelineObservation:
    """The stage resources of the pipeline from the cache; a stage without one is committed when the
    store said so before (it is asked again only when the stage is about to start: see :func:`decide`)."""
    meta = body["metadata"]
    uid = meta.get("uid", "")
    c = run.composition
    ns = c.pipeline.metadata.namespace or DEFAULT_NAMESPACE
    effective = c.graph.work_digests
    children: dict[str, Child] = {}
    stages: dict[str, StageStatus] = {}
    taken: dict[str, str] = {}
    for stage in c.stages:
        found = ctx.cache.get(kind_named(stage.kind).plural, ns, stage.resource.metadata.name)
        if found is not None and not any(
            o.get("uid") == uid for o in found["metadata"].get("ownerReferences") or []
        ):
            owner = controller(found)
            if owner is None or (owner.get("kind"), owner.get("name")) != (PIPELINE_KIND, meta.get("name")):
                taken[stage.name] = str(not_ours(f"{stage.kind} {ns}/{stage.resource.metadata.name}", found))
            found = None
        if found is None:
            committed = ctx.store_seen.get((stage.output, stage.digest), False)
            stages[stage.name] = StageStatus(committed_digest=effective[stage.name] if committed else None)
            continue
        current = (found["metadata"].get("annotations") or {}).get(WORK_DIGEST) == stage.digest
        child = Child(found, read_status(StageRunStatus, found), current)
        children[stage.name] = child
        stages[stage.name] = child_run(stage, child, effective[stage.name])
    old = read_status(AlignmentPipelineStatus, body)
    return PipelineObservation(run, c, graph, meta.get("generation"), uid, old, children, stages, taken)


def child_run(stage: ComposedStage, child: Child, effective: str) -> StageStatus:
    """A stage as its stage resource reports it (``effective``: its work digest in the graph)."""
    st = child.status
    if not child.current:  # the pipeline changed: the stage resource is about to be updated
        return StageStatus(RunState.RUNNING, 1, digest=effective)
    if st is not None and st.phase is StagePhase.SUCCEEDED and st.digest == stage.digest:
        return StageStatus(RunState.SUCCEEDED, st.attempts, committed_digest=effective)
    if st is not None and st.phase is StagePhase.FAILED:
        finished = parse_rfc3339(st.completion_time)
        return StageStatus(RunState.FAILED, max(1, st.attempts), finished, st.message, digest=effective)
    return StageStatus(RunState.RUNNING, max(1, st.attempts if st else 0), digest=effective)


# ------------------------------------------------------------------------------------------ decide
def decide(ctx: Context, seen: PipelineObservation, now: datetime) -> Plan:
    """The plan.  A stage about to start may be committed already (an earlier run): the store is asked
    about those, and the plan made again with what it says."""
    c, statuses = seen.composition, dict(seen.stages)
    while True:
        decided = plan(seen.graph, Observed(stages=statuses, suspend=seen.suspend), now)
        fresh = [
            a.stage
            for a in decided.actions
            if isinstance(a, StartStage)
            and a.stage not in seen.children
            and statuses[a.stage].committed_digest is None
        ]
        found = [s for s in fresh if ctx.is_committed(c.stage(s).output, c.stage(s).digest)]
        if not found:
            return decided
        for s in found:
            statuses[s] = StageStatus(committed_digest=c.graph.work_digests[s])


# --------------------------------------------------------------------------------------------- act
def act(ctx: Context, seen: PipelineObservation, decided: Plan, namespace: str) -> list[Event]:
    """Create the stage resources of the stages that start; carry the pipeline's current spec into the
    others.  The Events of what was created."""
    c = seen.composition
    events: list[Event] = []
    for action in decided.actions:
        if isinstance(action, StartStage) and action.stage not in seen.children:
            events += create_stage(ctx, c.stage(action.stage), namespace, seen.uid)
    for stage_name, child in seen.children.items():
        update_stage(ctx, c.stage(stage_name), child, namespace, seen.uid)
        if seen.stages[stage_name].committed_digest is not None:
            index_work(ctx, seen, c.stage(stage_name))
    return events


def index_work(ctx: Context, seen: PipelineObservation, stage: ComposedStage) -> None:
    """Record a stage's committed work in its lineage's index (once per operator process), so a later
    run of the same schedule or pipeline reuses it."""
    key = ("indexed", stage.digest)
    if ctx.store_seen.get(key):
        return
    spec = seen.composition.pipeline
    try:
        record_work(
            lineage_root(spec), stage.digest, artifact=stage.output, run=spec.spec.run_id, stage=stage.name
        )
    except StoreError as err:  # reuse is an optimisation: the run goes on, the next pass tries again
        log.warning("cannot index %s's work in the store: %s", stage.name, err)
        return
    ctx.store_seen[key] = True


def create_stage(ctx: Context, stage: ComposedStage, namespace: str, uid: str) -> list[Event]:
    """Create the stage resource of ``stage`` (owned by the pipeline ``uid``); an existing one is kept."""
    resource_name = stage.resource.metadata.name
    try:
        ctx.seen(
            kind_named(stage.kind).plural,
            ctx.kube.create(
                custom_ref(kind_named(stage.kind).plural, namespace, resource_name),
                stage_resource_object(stage, uid),
            ),
        )
    except Conflict:
        log.info("stage resource %s already exists", resource_name)
        return []
    return [Event("StageCreated", f"{stage.name}: created {stage.kind} {resource_name}")]


def update_stage(ctx: Context, stage: ComposedStage, child: Child, namespace: str, uid: str) -> None:
    """Replace the stage resource's spec when the pipeline's says otherwise (a changed spec, suspend)."""
    want = stage_resource_object(stage, uid)
    if child.current and child.body.get("spec") == want["spec"]:
        return
    want["metadata"]["resourceVersion"] = child.body["metadata"]["resourceVersion"]
    ctx.seen(
        kind_named(stage.kind).plural,
        ctx.kube.replace_spec(
            custom_ref(kind_named(stage.kind).plural, namespace, child.body["metadata"]["name"]), want
        ),
    )


# ------------------------------------------------------------------------------------------ status
def summary(
    stage: ComposedStage, d: StageDecision, child: Child | None, reused_from: str | None = None
) -> StageSummary:
    """One stage as the pipeline shows it: while its stage resource runs it, in that resource's words
    (it counts its attempts: the plan here would say "1 attempt(s); last: …" around its message again)."""
    st = child.status if child else None
    runs = d.phase is StagePhase.RUNNING or (d.phase is StagePhase.SUSPENDED and d.attempt > 0)
    phase = d.phase
    if runs:
        phase = st.phase if st is not None and st.phase in OWN_PHASES else StagePhase.RUNNING
    message = d.message
    if child is not None and (runs or d.phase is StagePhase.FAILED) and st is not None:
        message = st.message
    return StageSummary(
        name=stage.name,
        kind=stage.kind,
        resource=stage.resource.metadata.name,
        phase=phase,
        attempts=st.attempts if st is not None else d.attempt,
        cached=d.cached and child is None and reused_from is None,
        reused_from=reused_from if child is None else None,
        artifact=stage.output,
        message=message,
    )


Gate = tuple[PromotionStatus | None, WeightDriftStatus | None]


def pipeline_status(
    seen: PipelineObservation, decided: Plan, now: datetime, *, gate: Gate = (None, None),
    job_backend: str | None = None, evaluation: EvaluationStatus | None = None,
) -> AlignmentPipelineStatus:  # fmt: skip
    """The status once ``decided`` is carried out (``gate``: the promotion gate's outcome, if known;
    ``job_backend``: the kind of job its stages run as; ``evaluation``: the committed evaluation's win
    rate, if known)."""
    c, old, stamp = seen.composition, seen.old, rfc3339(now)
    reused = {name: r.run for name, r in c.reused.items()}
    summaries = [
        summary(s, decided.stages[s.name], seen.children.get(s.name), reused.get(s.name)) for s in c.stages
    ]
    running = [s.name for s in summaries if s.phase in ACTIVE]
    done = sum(1 for s in summaries if s.phase is StagePhase.SUCCEEDED)
    phase = decided.phase
    if phase is PipelinePhase.RUNNING and not running and seen.suspend:
        phase = PipelinePhase.SUSPENDED  # its running stages' jobs are suspended too
    elif phase is PipelinePhase.RUNNING and not running and done == 0 and not decided.actions:
        phase = PipelinePhase.PENDING
    report = (
        f"{c.stage(EVAL).output}/report.html"
        if phase is PipelinePhase.SUCCEEDED and EVAL in c.by_name
        else None
    )
    promotion, drift = gate
    return AlignmentPipelineStatus(
        observed_generation=seen.generation,
        phase=phase,
        conditions=pipeline_conditions(seen, phase, summaries, report, stamp),
        stage=", ".join(running),
        progress=f"{done}/{len(summaries)}",
        result=result_line(evaluation, promotion),
        job_backend=job_backend,
        stages=summaries,
        artifacts=c.root,
        report=report,
        data=data_status(c.pipeline, seen.run.snapshot),
        evaluation=evaluation,
        promotion=promotion,
        weight_drift=drift,
        start_time=(old.start_time if old else None) or stamp,
        completion_time=((old.completion_time if old else None) or stamp) if phase in ENDED else None,
    )


def gate_outcome(ctx: Context, seen: PipelineObservation, phase: PipelinePhase) -> Gate:
    """The promotion gate's decision, once the evaluation committed (read once from its artifact)."""
    old = seen.old
    if old is not None and old.promotion is not None:
        return old.promotion, old.weight_drift
    c = seen.composition
    if phase is not PipelinePhase.SUCCEEDED or c.pipeline.spec.promotion is None or EVAL not in c.by_name:
        return None, None
    uri = c.stage(EVAL).output
    try:
        found = ctx.memo.get(("promotion", uri, c.stage(EVAL).digest), lambda: promotion_outcome(uri))
    except StoreError as err:
        log.warning("cannot read the promotion decision at %s: %s", uri, err)
        return None, None
    return found if found is not None else (None, None)


def evaluation_of(ctx: Context, seen: PipelineObservation, phase: PipelinePhase) -> EvaluationStatus | None:
    """The committed evaluation's win rate, once the pipeline succeeded (read once from its artifact)."""
    old = seen.old
    if old is not None and old.evaluation is not None:
        return old.evaluation
    c = seen.composition
    if phase is not PipelinePhase.SUCCEEDED or EVAL not in c.by_name:
        return None
    uri = c.stage(EVAL).output
    try:
        return ctx.memo.get(("evaluation", uri, c.stage(EVAL).digest), lambda: evaluation_outcome(uri))
    except StoreError as err:
        log.warning("cannot read the evaluation's metrics at %s: %s", uri, err)
        return None


def failures(stages: list[StageSummary]) -> str:
    """Every failed stage with its message."""
    return "; ".join(f"{s.name}: {s.message}" for s in stages if s.phase is StagePhase.FAILED)


def pipeline_conditions(
    seen: PipelineObservation, phase: PipelinePhase, stages: list[StageSummary], report: str | None, now: str
) -> list[Condition]:
    """Conditions ``Valid``, ``Running``, ``Suspended``, ``Succeeded`` and ``Failed``."""
    running = [s.name for s in stages if s.phase in ACTIVE]
    failed = any(s.phase is StagePhase.FAILED for s in stages)
    why = "StagesRunning" if running else phase.value
    updates = [
        ("Valid", True, "SpecValid", ""),
        ("Running", phase is PipelinePhase.RUNNING, why, ", ".join(running)),
        ("Suspended", seen.suspend, "Suspended" if seen.suspend else "NotSuspended", ""),
        ("Succeeded", phase is PipelinePhase.SUCCEEDED,
         "AllStagesCommitted" if phase is PipelinePhase.SUCCEEDED else phase.value, report or ""),
        ("Failed", phase is PipelinePhase.FAILED, "StageFailed" if failed else phase.value, failures(stages)),
    ]  # fmt: skip
    old = seen.old.conditions if seen.old else []
    return set_conditions(old, updates, now=now, generation=seen.generation)


# ------------------------------------------------------------------------------------------ events
def pipeline_events(old: AlignmentPipelineStatus | None, new: AlignmentPipelineStatus) -> list[Event]:
    """The Events of going from ``old`` to ``new``: what needs a look (a stage that failed, is blocked or
    backs off), a stage found committed, and the end.  A stage's every transition is an Event on its
    stage resource (as a Deployment and its ReplicaSets do)."""
    before = {s.name: s.phase for s in old.stages} if old else {}
    events: list[Event] = []
    for s in new.stages:
        if before.get(s.name) is s.phase:
            continue
        if s.phase in (StagePhase.FAILED, StagePhase.BLOCKED, StagePhase.BACKOFF):
            events.append(
                Event(f"Stage{s.phase.value}", f"{s.name}: {s.message or s.phase.value}".strip(), True)
            )
        elif s.cached and s.phase is StagePhase.SUCCEEDED:
            events.append(Event("StageCached", f"{s.name}: already committed at {s.artifact}"))
    if (old.phase if old else None) is not new.phase and new.phase in ENDED:
        why = new.report or failures(new.stages) or new.phase.value
        events.append(Event(f"Pipeline{new.phase.value}", why, new.phase is PipelinePhase.FAILED))
    if new.data is not None and new.data.references and (old is None or old.data is None):
        d = new.data
        events.append(
            Event(
                "DataPinned",
                f"{d.references} data reference(s), {d.objects} object(s), {d.bytes} bytes: {d.snapshot}",
            )
        )
    if new.promotion is not None and (old is None or old.promotion is None):
        events.append(promotion_event(new.promotion))
        if new.weight_drift is not None and new.weight_drift.moved:
            w = new.weight_drift
            events.append(
                Event(
                    "WeightDrift",
                    f"adapter weights moved {w.total_variation:.3f} (total variation) since run {w.previous_run}",
                    True,
                )
            )
    return events


def promotion_event(p: PromotionStatus) -> Event:
    """``Promoted`` or ``PromotionRejected`` (a Warning), ``PromotionSuperseded`` or ``PromotionUnchanged``."""
    rate = f"win rate {p.win_rate:.3f}" if p.win_rate is not None else "no win rate"
    if p.win_rate_low is not None and p.win_rate_high is not None:
        rate += f" [{p.win_rate_low:.3f}, {p.win_rate_high:.3f}]"
    message = f"{rate} vs {p.baseline}" + (": " + "; ".join(p.reasons) if p.reasons else "")
    reason = "Promoted" if p.decision == "Promoted" else f"Promotion{p.decision}"
    return Event(reason, message, p.decision == "Rejected")
