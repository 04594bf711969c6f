"""The pipeline controller: an AlignmentPipeline → one stage resource per stage, created when the stage's
inputs are committed.

Observe (the pipeline and its stage resources from the cache; the store only for a stage about to start,
which may be committed already) → the pure planner on the composed graph → act (create stage resources,
carry a changed spec or ``suspend`` into them) → status, Events.  The stage resources retry their own
jobs, so here a failed stage is final (retry limit 0 at this level).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from pro.planner import Graph, Observed, RetryPolicy, RunState, StagePhase, StageStatus, StartStage, plan
from pro.planner.compose import EVAL, Composition, compose
from pro.render.jobs import stage_resource_object
from pro.spec import SpecError
from pro.spec.conventions import DEFAULT_NAMESPACE, WORK_DIGEST, parse_rfc3339, rfc3339
from pro.spec.kinds import PIPELINE_KIND, kind_named
from pro_operator import clock
from pro_operator.conditions import set_condition
from pro_operator.context import Context
from pro_operator.kube import Conflict, custom_ref
from pro_operator.stage import _write, memo_key, parsed, record_invalid

log = logging.getLogger("pro_operator.pipeline")

Obj = dict[str, Any]
PLURAL = kind_named(PIPELINE_KIND).plural


def _no_retries(graph: Graph) -> Graph:
    return Graph(tuple(dataclasses.replace(n, retry=RetryPolicy(limit=0)) for n in graph.stages))


def _observe(ctx: Context, c: Composition, uid: str) -> tuple[dict[str, StageStatus], dict[str, Obj]]:
    """Each stage's status as its stage resource reports it, and the stage resources found."""
    statuses: dict[str, StageStatus] = {}
    children: dict[str, Obj] = {}
    effective = c.graph.work_digests
    ns = c.pipeline.metadata.namespace or DEFAULT_NAMESPACE
    for stage in c.stages:
        child = ctx.cache.get(kind_named(stage.kind).plural, ns, stage.resource.metadata.name)
        if child is None or not any(
            o.get("uid") == uid for o in child["metadata"].get("ownerReferences") or []
        ):
            committed = ctx.store_seen.get((stage.output, stage.digest), False)
            statuses[stage.name] = StageStatus(committed_digest=effective[stage.name] if committed else None)
            continue
        children[stage.name] = child
        st = child.get("status") or {}
        same = (child["metadata"].get("annotations") or {}).get(WORK_DIGEST) == stage.digest
        if not same:  # the pipeline changed: the stage resource is about to be updated
            statuses[stage.name] = StageStatus(RunState.RUNNING, 1, digest=effective[stage.name])
        elif st.get("phase") == "Succeeded" and st.get("digest") == stage.digest:
            statuses[stage.name] = StageStatus(
                RunState.SUCCEEDED, st.get("attempts", 0), committed_digest=effective[stage.name]
            )
        elif st.get("phase") == "Failed":
            finished = parse_rfc3339(st.get("completionTime"))
            statuses[stage.name] = StageStatus(
                RunState.FAILED, max(1, st.get("attempts", 1)), finished, st.get("message", ""),
                digest=effective[stage.name],
            )  # fmt: skip
        else:
            statuses[stage.name] = StageStatus(
                RunState.RUNNING, max(1, st.get("attempts", 0)), digest=effective[stage.name]
            )
    return statuses, children


def reconcile_pipeline(ctx: Context, namespace: str, name: str) -> datetime | None:
    """One pass of the pipeline controller; returns when to look again (None: on the next event)."""
    body = ctx.cache.get(PLURAL, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    meta = body["metadata"]
    generation, uid = meta.get("generation"), meta.get("uid", "")
    old: Obj = body.get("status") or {}
    now = clock.now()
    stamp = rfc3339(now)
    ref = custom_ref(PLURAL, namespace, name)

    try:
        pipeline = parsed(ctx, PIPELINE_KIND, body)
    except SpecError as err:
        record_invalid(
            ctx, body, ref, old, err, condition="Valid", status={"phase": "Invalid", "stage": ""}, now=stamp
        )
        return None

    c: Composition = ctx.memo.get(("compose", memo_key(PIPELINE_KIND, body)), lambda: compose(pipeline))
    graph = _no_retries(c.graph)
    statuses, children = _observe(ctx, c, uid)
    spec = pipeline.spec
    effective = c.graph.work_digests

    # a stage about to start may be committed already (an earlier run): ask the store, then plan again
    while True:
        decided = plan(graph, Observed(stages=statuses, suspend=spec.suspend), now)
        fresh = [
            a.stage
            for a in decided.actions
            if isinstance(a, StartStage)
            and a.stage not in children
            and statuses[a.stage].committed_digest is None
        ]
        found = [s for s in fresh if ctx.is_committed(c.stage(s).output, c.stage(s).digest)]
        if not found:
            break
        for s in found:
            statuses[s] = StageStatus(committed_digest=effective[s])

    events: list[tuple[str, str, bool]] = []
    for action in decided.actions:
        if isinstance(action, StartStage) and action.stage not in children:
            stage = c.stage(action.stage)
            body_child = stage_resource_object(stage, uid)
            resource_name = stage.resource.metadata.name
            try:
                ctx.seen(
                    kind_named(stage.kind).plural,
                    ctx.kube.create(
                        custom_ref(kind_named(stage.kind).plural, namespace, resource_name), body_child
                    ),
                )
                events.append(("StageCreated", f"{stage.name}: created {stage.kind} {resource_name}", False))
            except Conflict:
                log.info("stage resource %s already exists", resource_name)
    for stage_name, child in children.items():
        stage = c.stage(stage_name)
        want = stage_resource_object(stage, uid)
        annotations = child["metadata"].get("annotations") or {}
        if annotations.get(WORK_DIGEST) != stage.digest or child.get("spec") != want["spec"]:
            want["metadata"]["resourceVersion"] = child["metadata"]["resourceVersion"]
            ctx.seen(
                kind_named(stage.kind).plural,
                ctx.kube.replace_spec(
                    custom_ref(kind_named(stage.kind).plural, namespace, child["metadata"]["name"]), want
                ),
            )

    # status
    summaries: list[dict[str, Any]] = []
    old_phases = {s.get("name"): s.get("phase") for s in old.get("stages", [])}
    for stage in c.stages:
        sp = decided.stages[stage.name]
        child_status = (children.get(stage.name) or {}).get("status") or {}
        phase = sp.phase.value
        if sp.phase is StagePhase.RUNNING and child_status.get("phase") in (
            "Backoff",
            "Suspended",
            "Pending",
        ):
            phase = child_status["phase"]
        message = sp.message
        if stage.name in children and sp.phase in (StagePhase.RUNNING, StagePhase.FAILED):
            # the stage resource's own words: it counts its attempts (the plan here would say "1
            # attempt(s); last: …" around its message again); until it reports, the attempt it starts
            message = child_status.get("message", "") if child_status else message
        summaries.append(
            {
                "name": stage.name,
                "kind": stage.kind,
                "resource": stage.resource.metadata.name,
                "phase": phase,
                "attempts": child_status.get("attempts", 0) if child_status else sp.attempt,
                "cached": sp.cached and stage.name not in children,
                "artifact": stage.output,
                "message": message,
            }
        )
        # the pipeline records its own actions (StageCreated above) and what needs a look; a stage's
        # every transition is an Event on its stage resource (as a Deployment and its ReplicaSets do)
        if old_phases.get(stage.name) != phase:
            if phase in ("Failed", "Blocked", "Backoff"):
                events.append((f"Stage{phase}", f"{stage.name}: {message or phase}".strip(), True))
            elif summaries[-1]["cached"] and phase == "Succeeded":
                events.append(("StageCached", f"{stage.name}: already committed at {stage.output}", False))
    running = [s["name"] for s in summaries if s["phase"] in ("Running", "Backoff", "Pending")]
    done = sum(1 for s in summaries if s["phase"] == "Succeeded")
    phase = decided.phase.value
    if phase == "Running" and not running and spec.suspend:
        phase = "Suspended"  # its running stages' jobs are suspended too
    elif phase == "Running" and not running and done == 0 and not decided.actions:
        phase = "Pending"
    finished = phase in ("Succeeded", "Failed")
    status = {
        "observedGeneration": generation,
        "phase": phase,
        "stage": ", ".join(running) if running else f"{done}/{len(summaries)}",
        "stages": summaries,
        "artifacts": c.root,
        "report": f"{c.stage(EVAL).output}/report.html"
        if phase == "Succeeded" and EVAL in c.by_name
        else None,
        "startTime": old.get("startTime") or stamp,
        "completionTime": (old.get("completionTime") or stamp) if finished else None,
    }
    failed = [s for s in summaries if s["phase"] == "Failed"]
    conds = old.get("conditions", [])
    conds = set_condition(conds, "Valid", True, "SpecValid", "", now=stamp, generation=generation)
    conds = set_condition(
        conds,
        "Running",
        phase == "Running",
        "StagesRunning" if running else phase,
        ", ".join(running),
        now=stamp,
        generation=generation,
    )
    conds = set_condition(
        conds,
        "Suspended",
        spec.suspend,
        "Suspended" if spec.suspend else "NotSuspended",
        "",
        now=stamp,
        generation=generation,
    )
    conds = set_condition(
        conds,
        "Succeeded",
        phase == "Succeeded",
        "AllStagesCommitted" if phase == "Succeeded" else phase,
        status["report"] or "",
        now=stamp,
        generation=generation,
    )
    fail_message = "; ".join(f"{s['name']}: {s['message']}" for s in failed)
    conds = set_condition(
        conds,
        "Failed",
        phase == "Failed",
        "StageFailed" if failed else phase,
        fail_message,
        now=stamp,
        generation=generation,
    )
    status["conditions"] = conds
    if old.get("phase") != phase and phase in ("Succeeded", "Failed"):
        events.append((f"Pipeline{phase}", status["report"] or fail_message or phase, phase == "Failed"))
    _write(ctx, body, ref, old, status, events=events, now=stamp)
    return decided.requeue_at
