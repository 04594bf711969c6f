"""The stage controller: one stage resource → its jobs, one per attempt, until its artifact is
committed or its retries are spent.

One pass: :func:`~pro_operator.backends.choose` (the job backend: the stage's own, the one it ran, or the
operator's default; refused at once, naming the field, when the cluster cannot run it) → :func:`observe`
(the stage resource and its jobs from the cache; the store only when no job failed or runs; the pods and
the failing pod's log only for why a job failed or does not start) → the pure planner's
:func:`~pro.planner.decide_stage` (retries, backoff, suspend) → :func:`act` (ConfigMap + job,
suspend/resume, give up a job stuck before running) → :func:`stage_status` (pure, typed) and
:func:`stage_events` (pure: from the old and the new status) → :func:`~pro_operator.publish.publish`.
Deterministic job names (``<kind short name>-<stage>-<n>``) and create-if-absent make a restarted operator resume
without duplicating a job.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pro.planner import (
    RetryPolicy,
    RunState,
    StageDecision,
    StageNode,
    StagePhase,
    StageStatus,
    attempt_failure,
    decide_stage,
    queued,
    started,
)
from pro.planner.compose import work_digest
from pro.render.jobs import owner_reference, render_stage
from pro.render.trainjob import ignored, runtime_ref
from pro.spec import SpecError
from pro.spec.conventions import (
    GROUP_VERSION,
    STAGE_RESOURCE_LABEL,
    TRAINJOB_KIND,
    WORK_DIGEST,
    parse_rfc3339,
    rfc3339,
)
from pro.spec.execution import StageExecution
from pro.spec.kinds import kind_of_plural
from pro.spec.status import StageRunStatus
from pro_operator import clock, metrics, tenancy
from pro_operator.backends import Refusal, choose, settings_refusal
from pro_operator.conditions import set_conditions
from pro_operator.context import Context, earliest
from pro_operator.events import Event
from pro_operator.jobs import (
    LOG_LINES,
    JobBackend,
    JobObservation,
    abandon_patch,
    attempt_of,
    dropped,
    job_ref,
    observe_job,
)
from pro_operator.kube import Conflict, KubeError, NotOwned, custom_ref, not_ours, owned_alike
from pro_operator.publish import publish, read_status
from pro_operator.specs import parsed, problems, publish_invalid, refused_status

log = logging.getLogger("pro_operator.stage")

Obj = dict[str, Any]
ENDED = (StagePhase.SUCCEEDED, StagePhase.FAILED)
#: where a stage resource keeps its job settings (the prefix of the fields a refusal names)
FIELDS = "spec.execution."


@dataclass(frozen=True)
class StageObservation:
    """A stage resource, its status and the jobs of its current work, as observed."""

    kind: str
    name: str
    namespace: str
    uid: str
    resource: Any
    """The typed stage resource."""
    backend: JobBackend
    """What runs its attempts."""
    generation: int | None
    digest: str
    """The work digest (a pipeline's, else the stage's own spec digest)."""
    output: str
    execution: StageExecution
    old: StageRunStatus | None
    """The status as the object holds it."""
    attempts: int
    """Jobs of the current work."""
    latest: JobObservation | None
    """The latest of them."""
    next_attempt: int
    """The number of a new job: after every job of the stage, whatever work it did."""
    committed: bool
    """The output artifact is committed for the current work."""

    @property
    def node(self) -> StageNode:
        r = self.execution.retry
        return StageNode(
            self.name,
            self.kind,
            retry=RetryPolicy(r.limit, r.backoff_seconds, r.factor, r.max_backoff_seconds),
        )

    @property
    def run(self) -> StageStatus:
        """The current work's state as the planner takes it."""
        latest = self.latest
        return StageStatus(
            latest.run if latest else RunState.IDLE,
            self.attempts,
            latest.finished_at if latest else None,
            latest.failure if latest else "",
            committed_digest=self.digest if self.committed else None,
            digest=self.digest,
            permanent=latest.permanent if latest else False,
        )

    @property
    def failure(self) -> str | None:
        """Why the latest attempt counts as failed (None: it did not)."""
        return None if self.committed else attempt_failure(self.run)

    @property
    def failed(self) -> int:
        """Failed attempts of the current work: each before the latest (a retry starts only then), and
        the latest when it failed."""
        return max(self.attempts - 1, 0) + (self.failure is not None)


def reconcile_stage(ctx: Context, plural: str, namespace: str, name: str) -> datetime | None:
    """One pass of the stage controller; returns when to look again (None: on the next event)."""
    body = ctx.cache.get(plural, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        tenancy.wake_queued(ctx, namespace)  # its jobs go with it: slots for others
        return None
    kind = kind_of_plural(plural).name  # type: ignore[union-attr]  # the caller routes stage plurals here
    now = clock.now()
    ref = custom_ref(plural, namespace, name)
    try:
        resource = parsed(ctx, kind, body)
    except SpecError as err:
        publish_invalid(
            ctx, body, ref, err, StageRunStatus, condition="Failed", now=rfc3339(now), phase=StagePhase.FAILED,
            message=f"invalid spec: {problems(err)}",
        )  # fmt: skip
        return None
    execution: StageExecution = resource.spec.execution or StageExecution()
    old = read_status(StageRunStatus, body)
    backend = choose(
        execution.kubernetes, ctx.jobs, ran=old.job_backend if old else None, field_prefix=FIELDS
    )
    if isinstance(backend, Refusal):
        return refuse(ctx, body, ref, backend, now)
    if backend.kind in ctx.broken:
        return refuse(ctx, body, ref, Refusal("JobSchemaMismatch", ctx.broken[backend.kind]), now)
    refusal = settings_refusal(execution, backend, field_prefix=FIELDS)
    if refusal is not None:
        return refuse(ctx, body, ref, refusal, now)
    seen = observe(ctx, body, kind, resource, backend=backend, now=now)
    decision = decide_stage(seen.node, seen.run, now, digest=seen.digest, suspend=seen.execution.suspend)
    if decision.start:  # what the job would ask of the cluster: the platform's guardrails allow it
        refusal = tenancy.refusal(ctx, namespace, execution, field_prefix=FIELDS)
        if refusal is not None:
            return refuse(ctx, body, ref, refusal, now)
    if decision.start and backend.kind == TRAINJOB_KIND:  # its runtime must exist and run torchrun
        runtime = runtime_ref(execution.kubernetes, ctx.jobs.runtime)
        refusal = ctx.runtimes.refusal(ctx.kube, runtime, namespace, field_prefix=FIELDS)
        if refusal is not None:
            return refuse(ctx, body, ref, refusal, now)
    recheck = None
    with ctx.slot_lock(namespace) if decision.start else nullcontext():
        why = tenancy.queue_reason(ctx, plural, body) if decision.start else None
        if why is not None:  # the namespace runs as many jobs as allowed: wait for one to end
            decision, recheck = queued(decision, why), now + timedelta(seconds=tenancy.QUEUED_RECHECK)
        try:
            job = act(ctx, seen, decision, now)
        except Rejected as err:
            return refuse(ctx, body, ref, err.refusal, now)
    status = stage_status(seen, started(decision), job, now)
    record_metrics(seen.kind, seen.old, status, now)
    publish(ctx, body, ref, status, events=stage_events(seen, status), now=rfc3339(now))
    tenancy.wake_queued(ctx, namespace)  # a job of this stage may have ended: a slot for another
    return earliest(seen.latest.recheck_at if seen.latest else None, decision.retry_at, recheck)


def refuse(ctx: Context, body: Obj, ref: Any, refusal: Refusal, now: datetime) -> datetime | None:
    """The stage cannot run here as it is: Failed at once with the refusal's reason and message (a Warning
    Event when the message is new), no job; it is looked at again on its next change (or when the
    refusal says)."""
    old = read_status(StageRunStatus, body)
    status = refused_status(
        StageRunStatus, body, condition="Failed", reason=refusal.reason, why=refusal.message,
        now=rfc3339(now), phase=StagePhase.FAILED, message=refusal.message,
    )  # fmt: skip
    new = old is None or old.message != refusal.message or old.phase is not StagePhase.FAILED
    events = [Event(refusal.reason, refusal.message, True)] if new else []
    publish(ctx, body, ref, status, events=events, now=rfc3339(now))
    return now + timedelta(seconds=refusal.recheck_seconds) if refusal.recheck_seconds else None


# ----------------------------------------------------------------------------------------- observe
def observe(
    ctx: Context, body: Obj, kind: str, resource: Any, *, backend: JobBackend, now: datetime
) -> StageObservation:
    """The stage resource and its ``backend`` jobs from the cache; the store only when no job of the
    current work failed or runs (a committed artifact is remembered in the status)."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta.get("uid", "")
    execution: StageExecution = resource.spec.execution or StageExecution()
    digest, output = work_digest(resource), resource.spec.output
    jobs = [
        j
        for j in ctx.cache.by_label(backend.plural, namespace, STAGE_RESOURCE_LABEL, name)
        if any(o.get("uid") == uid for o in j["metadata"].get("ownerReferences") or [])
    ]
    mine = sorted(
        (j for j in jobs if (j["metadata"].get("annotations") or {}).get(WORK_DIGEST) == digest),
        key=attempt_of,
    )
    latest = None
    if mine:
        job = mine[-1]
        latest = observe_job(
            backend, job, now=now, start_deadline=execution.kubernetes.start_deadline_seconds,
            pods=lambda: job_pods(ctx, backend, namespace, job["metadata"]["name"]),
            logs=lambda pod, container: pod_log(ctx, namespace, pod, container),
        )  # fmt: skip
    old = read_status(StageRunStatus, body)
    committed = (
        old is not None
        and old.phase is StagePhase.SUCCEEDED
        and (old.digest, old.artifact) == (digest, output)
    )
    if not committed and (latest is None or latest.run is RunState.SUCCEEDED):
        committed = ctx.is_committed(output, digest)
    return StageObservation(
        kind=kind, name=name, namespace=namespace, uid=uid, resource=resource, backend=backend,
        generation=meta.get("generation"), digest=digest, output=output, execution=execution, old=old,
        attempts=len(mine), latest=latest,
        next_attempt=max([attempt_of(j) for j in jobs] + [0]) + 1, committed=committed,
    )  # fmt: skip


def job_pods(ctx: Context, backend: JobBackend, namespace: str, name: str) -> list[Obj]:
    """The pods of job ``name`` (none when they cannot be read: the reason is then the job's own)."""
    try:
        return ctx.kube.pods(namespace, backend.pod_selector(name))
    except KubeError as err:
        log.warning("cannot read the pods of %s/%s: %s", namespace, name, err)
        return []


def pod_log(ctx: Context, namespace: str, pod: str, container: str) -> str:
    """The end of a failing pod's log ("" when it cannot be read: the reason is then its exit code)."""
    try:
        return ctx.kube.pod_log(namespace, pod, container, lines=LOG_LINES)
    except KubeError as err:
        log.warning("cannot read the log of %s/%s: %s", namespace, pod, err)
        return ""


# --------------------------------------------------------------------------------------------- act
def act(ctx: Context, seen: StageObservation, decision: StageDecision, now: datetime) -> str | None:
    """Carry out ``decision``: give up a job stuck before running, start the next attempt, and suspend
    or resume a running job with its stage.  The job started (None: none)."""
    latest, backend = seen.latest, seen.backend
    if latest is not None and latest.abandon:  # kept as the record of a failed attempt
        ctx.kube.patch(
            job_ref(backend, seen.namespace, latest.name),
            abandon_patch(backend, latest.failure, rfc3339(now)),
        )
    job = start_job(ctx, seen, now) if decision.start else None
    suspend = seen.execution.suspend
    if latest is not None and latest.run is RunState.RUNNING and latest.suspended != suspend:
        ctx.kube.patch(job_ref(backend, seen.namespace, latest.name), backend.suspend_patch(suspend))
    return job


def start_job(ctx: Context, seen: StageObservation, now: datetime) -> str:
    """Create the next attempt's ConfigMap and job (an existing one of ours is left as it is); its name.
    A ConfigMap or job of that name that is not this stage's is never changed: refused (:class:`Rejected`,
    ``NotOwned``).  A job the cluster's CRD did not keep whole (an older Kubeflow's schema pruned fields) is
    given up at once, and so is its backend (:class:`Rejected`)."""
    owner = owner_reference(GROUP_VERSION, seen.kind, seen.name, seen.uid)
    backend = seen.backend
    objs = render_stage(
        seen.resource, attempt=seen.next_attempt, owner=owner, backend=backend.kind,
        default_runtime=ctx.jobs.runtime, pods=ctx.guardrails.pods,
    )  # fmt: skip
    objs.job["metadata"].setdefault("annotations", {})[WORK_DIGEST] = seen.digest
    if backend.kind == TRAINJOB_KIND and ignored(seen.execution):
        log.warning(
            "%s/%s: a TrainJob takes %s from its runtime; the stage's are not used",
            seen.namespace, seen.name, ", ".join(ignored(seen.execution)),
        )  # fmt: skip
    name: str = objs.job["metadata"]["name"]
    ref = job_ref(backend, seen.namespace, name)
    try:
        ctx.kube.apply_config_map(objs.config_map)
    except NotOwned as err:
        raise taken(err) from None
    try:
        created = ctx.kube.create(ref, objs.job)
    except Conflict:  # ours (created before a restart), or another's, which is never touched
        found = ctx.kube.get(ref)
        if not owned_alike(objs.job, found):
            raise taken(not_ours(f"{backend.kind} {seen.namespace}/{name}", found)) from None
        log.info("job %s/%s already exists", seen.namespace, name)
        return name
    except KubeError as err:
        if not rejected(err):
            raise  # unreachable, overloaded, not allowed (yet): the reconcile is retried
        raise Rejected(Refusal("JobRejected", f"the API server refused the {backend.kind}: {err}")) from None
    lost = dropped(objs.job["spec"], created.get("spec") or {}, "spec")
    if lost:
        why = (
            f"the cluster's {backend.kind} CRD ({backend.group}/{backend.version}) dropped {', '.join(lost)} "
            f"of job {name}: its Kubeflow is older than {backend.release}, which this operator needs"
        )
        ctx.broken[backend.kind] = why
        ctx.seen(backend.plural, ctx.kube.patch(ref, abandon_patch(backend, why, rfc3339(now))))
        raise Rejected(Refusal("JobSchemaMismatch", why))
    ctx.seen(backend.plural, created)
    return name


class Rejected(Exception):
    """The API server refused a job as it is (its schema, or an admission webhook): retrying the same
    job cannot help."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def taken(err: NotOwned) -> Rejected:
    """A name of ours that another object has: refused, never changed."""
    return Rejected(Refusal("NotOwned", f"{err}: delete or rename it"))


def rejected(err: KubeError) -> bool:
    """A refusal of the object itself: invalid (400, 422), or denied by an admission webhook (e.g.
    Trainer's, for a runtime that does not exist) — not RBAC's 403, which an administrator may fix."""
    return err.status in (400, 422) or (err.status == 403 and "admission webhook" in str(err))


# ------------------------------------------------------------------------------------------ status
def stage_status(
    seen: StageObservation, decision: StageDecision, job: str | None, now: datetime
) -> StageRunStatus:
    """The status once ``decision`` is carried out (``job``: the job it started): what is true now."""
    old, latest, phase, stamp = seen.old, seen.latest, decision.phase, rfc3339(now)
    message = decision.message
    if phase is StagePhase.FAILED and latest is not None and latest.log_tail:
        message += "\nlast lines of the log:\n" + "\n".join(latest.log_tail)
    attempts = seen.attempts + (job is not None)
    failed_at = latest.finished_at if latest is not None and latest.run is RunState.FAILED else None
    updates = [
        ("Running", phase is StagePhase.RUNNING, decision.reason, decision.message),
        ("Succeeded", phase is StagePhase.SUCCEEDED, decision.reason,
         f"committed {seen.output}" if phase is StagePhase.SUCCEEDED else ""),
        ("Failed", phase is StagePhase.FAILED, decision.reason,
         message if phase is StagePhase.FAILED else ""),
    ]  # fmt: skip
    return StageRunStatus(
        observed_generation=seen.generation,
        phase=phase,
        conditions=set_conditions(
            old.conditions if old else [], updates, now=stamp, generation=seen.generation
        ),
        attempts=attempts,
        failed=seen.failed,
        job=job or (latest.name if latest else old.job if old else None),
        job_backend=seen.backend.kind,
        digest=seen.digest,
        artifact=seen.output if phase is StagePhase.SUCCEEDED else None,
        message=message,
        start_time=(old.start_time if old else None) or (stamp if attempts else None),
        completion_time=((old.completion_time if old else None) or stamp) if phase in ENDED else None,
        last_failure_time=rfc3339(failed_at) if failed_at else (old.last_failure_time if old else None),
        retry_time=rfc3339(decision.retry_at) if decision.retry_at else None,
    )


# ------------------------------------------------------------------------------- events, metrics
def transition(old: StageRunStatus | None, new: StageRunStatus) -> bool:
    """A new phase, or a new attempt running."""
    if old is None or old.phase is not new.phase:
        return True
    return new.phase is StagePhase.RUNNING and new.attempts != old.attempts


def stage_events(seen: StageObservation, new: StageRunStatus) -> list[Event]:
    """The Events of going from ``seen.old`` to ``new``: each failed attempt once (the last one as
    ``Failed``), and every transition."""
    old = seen.old
    events: list[Event] = []
    if new.failed > (old.failed if old else 0) and new.phase is not StagePhase.FAILED:
        then = {
            StagePhase.BACKOFF: f"retry at {new.retry_time}",
            StagePhase.RUNNING: f"retrying now as attempt {new.attempts}",
            StagePhase.QUEUED: f"the retry waits: {new.message}",
        }.get(new.phase, "the retry waits until the stage is resumed")
        events.append(Event("AttemptFailed", f"attempt {seen.attempts} failed: {seen.failure}; {then}", True))
    if not transition(old, new):
        return events
    if new.phase is StagePhase.SUSPENDED:
        events.append(Event("Suspended", "start no job until resumed; a running job is suspended"))
    elif new.phase is StagePhase.QUEUED:
        events.append(Event("Queued", f"{new.message}: the next job starts when one ends"))
    elif new.phase is StagePhase.RUNNING:
        resumed = old is not None and old.phase is StagePhase.SUSPENDED and old.attempts == new.attempts
        events.append(Event("Resumed" if resumed else "Started", f"attempt {new.attempts}: job {new.job}"))
    elif new.phase is StagePhase.SUCCEEDED:
        cached = " (already committed)" if new.attempts == 0 else ""
        events.append(Event("Succeeded", f"committed {new.artifact}{cached}"))
    elif new.phase is StagePhase.FAILED:
        events.append(Event("Failed", new.message, True))
    return events


def record_metrics(kind: str, old: StageRunStatus | None, new: StageRunStatus, now: datetime) -> None:
    """Failed attempts, transitions and, for a stage that ended, its duration."""
    failures = new.failed - (old.failed if old else 0)
    if failures > 0:
        metrics.STAGE_FAILURES.labels(kind=kind).inc(failures)
    if not transition(old, new):
        return
    metrics.STAGE_TRANSITIONS.labels(kind=kind, phase=new.phase.value).inc()
    begun = parse_rfc3339(new.start_time) if new.phase in ENDED else None
    if begun is not None:
        metrics.STAGE_DURATION.labels(kind=kind, phase=new.phase.value).observe((now - begun).total_seconds())
