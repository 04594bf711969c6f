"""The stage controller: one stage resource → its PyTorchJobs, one per attempt, until its artifact is
committed or its retries are spent.

Observe (the stage resource and its jobs from the cache, the artifact from the store) → the pure
planner on a one-stage graph (retries, backoff, suspend) → act (ConfigMap + job, suspend/resume, delete
a job stuck before running) → status, Events and metrics.  Deterministic job names (``<stage>-<n>``)
and create-if-absent make a restarted operator resume without duplicating a job.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Any

from pro.logtail import failure_reason, tail
from pro.planner import (
    Graph,
    Observed,
    RetryPolicy,
    RunState,
    StageNode,
    StagePhase,
    StageStatus,
    StartStage,
    attempt_failure,
    plan,
)
from pro.planner.compose import work_digest
from pro.render.jobs import owner_reference, render_stage
from pro.spec import SpecError
from pro.spec.conventions import (
    ABANDONED,
    ABANDONED_AT,
    ATTEMPT_LABEL,
    GROUP_VERSION,
    PYTORCHJOB_POD_LABEL,
    PYTORCHJOBS,
    STAGE_RESOURCE_LABEL,
    WORK_DIGEST,
    parse_rfc3339,
    rfc3339,
)
from pro.spec.execution import StageExecution
from pro.spec.kinds import kind_named, kind_of_plural
from pro.spec.loader import Document, parse
from pro_operator import clock, metrics
from pro_operator.conditions import set_condition
from pro_operator.context import Context, earliest
from pro_operator.events import involved_object, post
from pro_operator.kube import Conflict, KubeError, NotFound, custom_ref, job_ref

log = logging.getLogger("pro_operator.stage")

Obj = dict[str, Any]
LOG_TAIL = 20


def memo_key(kind_name: str, body: Obj) -> Hashable:
    """What a parsed spec depends on: the object's identity, generation, labels and annotations."""
    meta = body.get("metadata", {})
    return (
        kind_name,
        meta.get("uid"),
        meta.get("generation"),
        json.dumps([meta.get("labels"), meta.get("annotations")], sort_keys=True),
    )


def parsed(ctx: Context, kind_name: str, body: Obj) -> Any:
    """:func:`parse_body`, remembered per :func:`memo_key` (a spec error is raised again each time)."""
    return ctx.memo.get(memo_key(kind_name, body), lambda: parse_body(kind_name, body))


def parse_body(kind_name: str, body: Obj) -> Any:
    """The typed resource of a custom object body (a :class:`SpecError` names every bad field)."""
    kind = kind_named(kind_name)
    meta = body.get("metadata", {})
    data = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            k: v
            for k, v in meta.items()
            if k in ("name", "namespace", "labels", "annotations") and v is not None
        },
        "spec": body.get("spec"),
    }
    return parse(kind.model(), Document(data, {}, f"{kind_name}/{meta.get('name')}"))


def retry_policy(execution: StageExecution) -> RetryPolicy:
    r = execution.retry
    return RetryPolicy(r.limit, r.backoff_seconds, r.factor, r.max_backoff_seconds)


def _condition(job: Obj, type_: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            found: Obj = c
            return found
    return None


def _attempt(job: Obj) -> int:
    try:
        return int(job["metadata"].get("labels", {}).get(ATTEMPT_LABEL, "0"))
    except ValueError:
        return 0


def _job_failure(ctx: Context, job: Obj) -> tuple[str, list[str]]:
    """Why the job failed: its failing pod's own last word and log tail, else the job's condition."""
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    cond = _condition(job, "Failed") or {}
    try:
        pods = ctx.kube.pods(ns, f"{PYTORCHJOB_POD_LABEL}={name}")
    except KubeError as err:
        log.warning("cannot read the pods of %s/%s: %s", ns, name, err)
        pods = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode") not in (None, 0):
                text = term.get("message") or ""
                why = failure_reason(text) or term.get("reason") or "failed"
                return f"pod {pod['metadata']['name']} exited with {term['exitCode']}: {why}", tail(
                    text, LOG_TAIL
                )
    return cond.get("message") or f"job {name} failed", []


def _waiting_since(job: Obj) -> datetime | None:
    """Since when a job not running waits to run: its creation, or its latest resumption (a job held
    suspended, e.g. by Kueue until admitted, gets its whole start deadline after it is let go)."""
    since = parse_rfc3339(job["metadata"].get("creationTimestamp"))
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Suspended" and c.get("status") == "False":
            resumed = parse_rfc3339(c.get("lastTransitionTime"))
            if resumed is not None and (since is None or resumed > since):
                since = resumed
    return since


def _stuck(ctx: Context, job: Obj, deadline: float, now: datetime) -> str | None:
    """Why a job that never started running counts as failed (None: not stuck, or not yet)."""
    if _condition(job, "Running") or _condition(job, "Suspended"):
        return None
    since = _waiting_since(job)
    if since is None or now - since < timedelta(seconds=deadline):
        return None
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    reasons = []
    try:
        for pod in ctx.kube.pods(ns, f"{PYTORCHJOB_POD_LABEL}={name}"):
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting")
                if waiting:
                    reasons.append(f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": "))
            for c in (pod.get("status") or {}).get("conditions") or []:
                if c.get("type") == "PodScheduled" and c.get("status") == "False":
                    reasons.append(f"{c.get('reason')}: {c.get('message', '')}".strip(": "))
    except KubeError:
        pass
    detail = "; ".join(reasons) or "no pod is running (image pull errors or no room to schedule?)"
    after = "creation" if since == parse_rfc3339(job["metadata"].get("creationTimestamp")) else "resumption"
    return f"job {name} not running {int(deadline)}s after {after}: {detail}"


def reconcile_stage(ctx: Context, plural: str, namespace: str, name: str) -> datetime | None:
    """One pass of the stage controller; returns when to look again (None: on the next event)."""
    body = ctx.cache.get(plural, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    kind = kind_of_plural(plural).name  # type: ignore[union-attr]  # the caller routes stage plurals here
    meta = body["metadata"]
    generation = meta.get("generation")
    old: Obj = body.get("status") or {}
    now = clock.now()
    stamp = rfc3339(now)
    ref = custom_ref(plural, namespace, name)

    try:
        resource = parsed(ctx, kind, body)
    except SpecError as err:
        record_invalid(
            ctx, body, ref, old, err, condition="Failed", now=stamp,
            status={"phase": "Failed", "message": f"invalid spec: {problems(err)}"},
        )  # fmt: skip
        return None

    execution: StageExecution = resource.spec.execution or StageExecution()
    digest = work_digest(resource)
    uid = meta.get("uid", "")
    jobs = [
        j
        for j in ctx.cache.by_label(PYTORCHJOBS, namespace, STAGE_RESOURCE_LABEL, name)
        if any(o.get("uid") == uid for o in j["metadata"].get("ownerReferences") or [])
    ]
    mine = sorted(
        (j for j in jobs if (j["metadata"].get("annotations") or {}).get(WORK_DIGEST) == digest), key=_attempt
    )
    latest = mine[-1] if mine else None
    output = resource.spec.output

    committed = (
        old.get("phase") == "Succeeded" and old.get("digest") == digest and old.get("artifact") == output
    )
    run, finished, message = RunState.IDLE, None, ""
    log_lines: list[str] = []
    requeue: datetime | None = None
    stuck_job: Obj | None = None
    annotations = (latest or {}).get("metadata", {}).get("annotations") or {}
    if latest is not None and annotations.get(ABANDONED):
        run, message = RunState.FAILED, annotations[ABANDONED]
        finished = parse_rfc3339(annotations.get(ABANDONED_AT)) or now
    elif latest is not None:
        if _condition(latest, "Succeeded"):
            run = RunState.SUCCEEDED
            finished = parse_rfc3339((latest.get("status") or {}).get("completionTime")) or now
        elif _condition(latest, "Failed"):
            run = RunState.FAILED
            finished = parse_rfc3339(_condition(latest, "Failed").get("lastTransitionTime")) or now  # type: ignore[union-attr]
            message, log_lines = _job_failure(ctx, latest)
        else:
            run = RunState.RUNNING
            why = _stuck(ctx, latest, execution.kubernetes.start_deadline_seconds, now)
            if why is not None:
                run, finished, message, stuck_job = RunState.FAILED, now, why, latest
            elif not _condition(latest, "Running") and not _condition(latest, "Suspended"):
                since = _waiting_since(latest) or now
                requeue = since + timedelta(seconds=execution.kubernetes.start_deadline_seconds + 1)
    if not committed and run in (RunState.IDLE, RunState.SUCCEEDED):
        committed = ctx.is_committed(output, digest)

    node = StageNode(name, kind, (), digest, retry_policy(execution))
    graph = Graph((node,))
    effective = graph.work_digests[name]
    observed = Observed(
        stages={
            name: StageStatus(
                run,
                len(mine),
                finished,
                message,
                committed_digest=effective if committed else None,
                digest=effective,
            )
        },
        suspend=execution.suspend,
    )
    decided = plan(graph, observed, now)
    sp = decided.stages[name]
    # every attempt before the latest failed (a retry starts only then); the latest may have too
    failure = None if committed else attempt_failure(observed.stages[name])
    failed = max(len(mine) - 1, 0) + (failure is not None)

    # act
    if stuck_job is not None:  # kept as the record of a failed attempt; suspended to free its pods
        ctx.kube.patch(
            job_ref(namespace, stuck_job["metadata"]["name"]),
            {
                "metadata": {"annotations": {ABANDONED: message, ABANDONED_AT: stamp}},
                "spec": {"runPolicy": {"suspend": True}},
            },
        )
    job_now = latest["metadata"]["name"] if latest else old.get("job")
    for action in decided.actions:
        if isinstance(action, StartStage):
            number = max([_attempt(j) for j in jobs] + [0]) + 1
            owner = owner_reference(GROUP_VERSION, kind, name, uid)
            objs = render_stage(resource, attempt=number, owner=owner)
            objs.job["metadata"].setdefault("annotations", {})[WORK_DIGEST] = digest
            ctx.kube.apply_config_map(objs.config_map)
            try:
                ctx.seen(
                    PYTORCHJOBS, ctx.kube.create(job_ref(namespace, objs.job["metadata"]["name"]), objs.job)
                )
            except Conflict:
                log.info("job %s/%s already exists", namespace, objs.job["metadata"]["name"])
            job_now = objs.job["metadata"]["name"]
            # the status says what is true now: attempt ``number`` runs (not "starting", which the next
            # reconcile would overwrite at once: one status write per start, not two)
            started = StageStatus(RunState.RUNNING, number, digest=effective)
            sp = plan(graph, dataclasses.replace(observed, stages={name: started}), now).stages[name]
    if latest is not None and run is RunState.RUNNING and stuck_job is None:
        suspended = bool(((latest.get("spec") or {}).get("runPolicy") or {}).get("suspend"))
        if suspended != execution.suspend:
            ctx.kube.patch(
                job_ref(namespace, latest["metadata"]["name"]),
                {"spec": {"runPolicy": {"suspend": execution.suspend}}},
            )

    # status
    phase = {
        # a running job is suspended with its stage (and resumed with it)
        StagePhase.RUNNING: "Suspended" if execution.suspend and run is RunState.RUNNING else "Running",
        StagePhase.PENDING: "Suspended" if execution.suspend else "Pending",
    }.get(sp.phase, sp.phase.value)
    text = sp.message
    if sp.phase is StagePhase.FAILED and log_lines:
        text += "\nlast lines of the log:\n" + "\n".join(log_lines)
    status = {
        "observedGeneration": generation,
        "phase": phase,
        "attempts": sp.attempt or len(mine),
        "job": job_now,
        "digest": digest,
        "artifact": output if sp.phase is StagePhase.SUCCEEDED else None,
        "message": text,
        "startTime": old.get("startTime") or (stamp if decided.actions or mine else None),
        "completionTime": (old.get("completionTime") or stamp)
        if sp.phase in (StagePhase.SUCCEEDED, StagePhase.FAILED)
        else None,
        "lastFailureTime": rfc3339(finished)
        if run is RunState.FAILED and finished
        else old.get("lastFailureTime"),
        "retryTime": rfc3339(sp.retry_at) if sp.retry_at else None,
        "failed": failed,
    }
    status["conditions"] = set_conditions(
        old.get("conditions", []),
        [
            ("Running", sp.phase is StagePhase.RUNNING, sp.reason, sp.message),
            ("Succeeded", sp.phase is StagePhase.SUCCEEDED, sp.reason,
             f"committed {output}" if sp.phase is StagePhase.SUCCEEDED else ""),
            ("Failed", sp.phase is StagePhase.FAILED, sp.reason, text if sp.phase is StagePhase.FAILED else ""),
        ],
        now=stamp,
        generation=generation,
    )  # fmt: skip

    events: list[tuple[str, str, bool]] = []
    old_phase = old.get("phase")
    # a failure is reported once, even when the retry was already due as it was seen (no Backoff phase)
    new_failures = failed - (old.get("failed") or 0)
    if new_failures > 0:
        metrics.STAGE_FAILURES.labels(kind=kind).inc(new_failures)
        if sp.phase is not StagePhase.FAILED:  # the final failure is the Failed event below
            then = {
                StagePhase.BACKOFF: f"retry at {status['retryTime']}",
                StagePhase.RUNNING: f"retrying now as attempt {status['attempts']}",
            }.get(decided.stages[name].phase, "the retry waits until the stage is resumed")
            events.append(("AttemptFailed", f"attempt {len(mine)} failed: {failure}; {then}", True))
    if old_phase != phase or (status["attempts"] != old.get("attempts") and phase == "Running"):
        metrics.STAGE_TRANSITIONS.labels(kind=kind, phase=phase).inc()
        if phase == "Suspended":
            events.append(("Suspended", "start no job until resumed; a running job is suspended", False))
        elif (
            sp.phase is StagePhase.RUNNING
            and old_phase == "Suspended"
            and status["attempts"] == old.get("attempts")
        ):
            events.append(("Resumed", f"attempt {status['attempts']}: job {job_now}", False))
        elif sp.phase is StagePhase.RUNNING:
            events.append(("Started", f"attempt {status['attempts']}: job {job_now}", False))
        elif sp.phase is StagePhase.SUCCEEDED:
            events.append(
                ("Succeeded", f"committed {output}" + (" (already committed)" if sp.cached else ""), False)
            )
        elif sp.phase is StagePhase.FAILED:
            events.append(("Failed", text, True))
        if sp.phase in (StagePhase.SUCCEEDED, StagePhase.FAILED) and status["startTime"]:
            begun = parse_rfc3339(status["startTime"])
            if begun is not None:
                metrics.STAGE_DURATION.labels(kind=kind, phase=phase).observe((now - begun).total_seconds())
    _write(ctx, body, ref, old, status, events=events, now=stamp)
    return earliest(requeue, sp.retry_at, decided.requeue_at)


def problems(err: SpecError) -> str:
    """Every problem of an invalid spec on one line, each with its field path."""
    return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in err.problems)


def record_invalid(
    ctx: Context, body: Obj, ref: Any, old: Obj, err: SpecError, *, condition: str, status: Obj, now: str
) -> None:
    """Mark an object whose spec breaks a rule: ``condition`` (``Valid`` False, or ``Failed`` True) with
    reason InvalidSpec naming every field, the extra ``status`` fields, and a Warning Event."""
    message = problems(err)
    generation = body["metadata"].get("generation")
    conds = set_condition(
        old.get("conditions", []), condition, condition == "Failed", "InvalidSpec", message, now=now,
        generation=generation,
    )  # fmt: skip
    full = {"observedGeneration": generation, **status, "conditions": conds}
    _write(ctx, body, ref, old, full, events=[("InvalidSpec", f"invalid spec: {message}", True)], now=now)


def set_conditions(
    old: list[Obj], updates: list[tuple[str, bool | None, str, str]], *, now: str, generation: int | None
) -> list[Obj]:
    """``old`` with each ``(type, status, reason, message)`` set in turn."""
    conds = old
    for type_, value, reason, message in updates:
        conds = set_condition(conds, type_, value, reason, message, now=now, generation=generation)
    return conds


def _write(
    ctx: Context, body: Obj, ref: Any, old: Obj, status: Obj, *, events: list[tuple[str, str, bool]], now: str
) -> None:
    """Patch the status when it changed (with the resourceVersion read: a concurrent change is a
    :class:`Conflict` and the key is reconciled again), then record the events."""
    full = {k: v for k, v in status.items()}
    for key in old:
        if key not in full:
            full[key] = None  # merge patch: remove what no longer applies
    if any(old.get(k) != v for k, v in full.items() if v is not None) or any(
        old.get(k) is not None for k, v in full.items() if v is None
    ):
        try:
            ctx.seen(ref.plural, ctx.kube.patch_status(ref, full, body["metadata"].get("resourceVersion")))
        except NotFound:  # deleted while the cache still had it (e.g. between the initial list and the watch)
            ctx.cache.remove(ref.plural, ref.namespace, ref.name)
            return
    if not events:
        return
    if ctx.events is not None:
        ctx.events.record(body, events, now)
    else:
        post(ctx.kube, involved_object(body), events, now)
