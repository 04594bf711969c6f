"""What an attempt's job says: its state, why it failed, whether it is stuck before running.

The stage controller sees jobs only through a :class:`JobBackend`: the kind's API coordinates, which
attempt a job is, how to suspend it, and :meth:`JobBackend.observe`, which reads a job body (and, for a
failure or a job that never starts, its pods and the failing pod's log) into a :class:`JobObservation`.
Two backends fill :data:`BACKENDS`: :data:`PYTORCHJOB` (Kubeflow Training Operator v1) and
:data:`TRAINJOB` (Kubeflow Trainer v2.3); the watches, RBAC rules and controller follow the table.  Both
read the same observation from different status: a PyTorchJob says Created / Running / Suspended /
Succeeded / Failed, a TrainJob only Suspended / Complete / Failed, its running derived from its child
jobs (``jobsStatus``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pro.errors import PERMANENT_EXIT
from pro.logtail import failure_reason, stage_exit_code, tail
from pro.planner import RunState
from pro.spec.conventions import (
    ABANDONED,
    ABANDONED_AT,
    ATTEMPT_LABEL,
    JOBSET_NAME_LABEL,
    KUBEFLOW_GROUP,
    KUBEFLOW_VERSION,
    PYTORCHJOB_KIND,
    PYTORCHJOB_POD_LABEL,
    PYTORCHJOBS,
    TRAINER_GROUP,
    TRAINER_VERSION,
    TRAINJOB_KIND,
    TRAINJOBS,
    parse_rfc3339,
)
from pro_operator.kube import Ref

Obj = dict[str, Any]
#: the failing pod's last log lines kept in a final failure's message
LOG_TAIL = 20
#: log lines read from a failing pod whose termination message is empty (the stage's ``error:`` line
#: is near the end, torchrun's report after it)
LOG_LINES = 80
NO_POD = "no pod is running (image pull errors or no room to schedule?)"
#: a pod's container log: (pod, container) → its last lines ("" when it cannot be read)
Logs = Callable[[str, str], str]


@dataclass(frozen=True)
class JobObservation:
    """One attempt as its job shows it."""

    name: str
    attempt: int
    run: RunState
    finished_at: datetime | None = None
    """When it succeeded or failed (or was given up on)."""
    failure: str = ""
    """Why it failed: the failing pod's own last word, else the job's condition."""
    log_tail: tuple[str, ...] = ()
    """The failing pod's last log lines."""
    abandon: bool = False
    """It has not started running within its start deadline: give it up now (``failure`` says why)."""
    permanent: bool = False
    """It failed for good: the stage exited with :data:`~pro.errors.PERMANENT_EXIT` (a spec, a missing
    file, a malformed row): no retry can succeed."""
    suspended: bool = False
    """Its spec holds it suspended."""
    recheck_at: datetime | None = None
    """Still waiting to run: look again when its start deadline has passed."""


class JobBackend(Protocol):
    """A kind of job that runs a stage's attempts."""

    @property
    def kind(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def release(self) -> str:
        """The Kubeflow release whose API this operator writes."""
        ...

    @property
    def bulky(self) -> tuple[str, ...]:
        """Keys of ``spec`` the controllers never read (pod templates): left out of the cache."""
        ...

    @property
    def ended(self) -> tuple[str, ...]:
        """The condition types of a job that ended (succeeded or failed)."""
        ...

    def suspended(self, job: Obj) -> bool:
        """Whether the job's spec holds it suspended."""
        ...

    def observe(
        self, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]], logs: Logs
    ) -> JobObservation:
        """The attempt's state from its ``job`` body; ``pods()`` lists its pods and ``logs`` reads a
        pod's log (called only when needed: a failure's reason, a stuck job's)."""
        ...

    def pod_selector(self, name: str) -> str:
        """The label selector of job ``name``'s pods."""
        ...

    def suspend_patch(self, suspend: bool) -> Obj:
        """The merge patch that suspends (or resumes) a job."""
        ...


def attempt_of(job: Obj) -> int:
    """The attempt a job runs (its attempt label; 0 when unreadable)."""
    try:
        return int(job["metadata"].get("labels", {}).get(ATTEMPT_LABEL, "0"))
    except ValueError:
        return 0


def job_ref(backend: JobBackend, namespace: str, name: str) -> Ref:
    return Ref(backend.group, backend.version, backend.plural, namespace, name)


def observe_job(
    backend: JobBackend, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]],
    logs: Logs = lambda pod, container: "",
) -> JobObservation:  # fmt: skip
    """The attempt a job runs: failed for good once given up on (see :func:`abandon_patch`), else what
    the backend reads from it."""
    annotations = job["metadata"].get("annotations") or {}
    if annotations.get(ABANDONED):
        finished = parse_rfc3339(annotations.get(ABANDONED_AT)) or now
        name = job["metadata"]["name"]
        return JobObservation(name, attempt_of(job), RunState.FAILED, finished, annotations[ABANDONED])
    return backend.observe(job, now=now, start_deadline=start_deadline, pods=pods, logs=logs)


def dropped(sent: Any, stored: Any, path: str) -> list[str]:
    """The fields of ``sent`` that ``stored`` (what the API server kept of it) lacks or changed, by path:
    a structural schema prunes what it does not know (an older CRD, a misspelled field).  Fields the
    server added (its defaults) are not counted."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [
            lost
            for key, value in sent.items()
            for lost in (dropped(value, stored[key], f"{path}.{key}") if key in stored else [f"{path}.{key}"])
        ]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        return [
            lost
            for i, (a, b) in enumerate(zip(sent, stored, strict=True))
            for lost in dropped(a, b, f"{path}[{i}]")
        ]
    return [] if sent == stored else [path]


def abandon_patch(backend: JobBackend, reason: str, at: str) -> Obj:
    """Give a job up: annotated with why and when (kept as the attempt's record), suspended to free its
    pods."""
    return {"metadata": {"annotations": {ABANDONED: reason, ABANDONED_AT: at}}, **backend.suspend_patch(True)}


# ------------------------------------------------------------------------------ shared reading
def _condition(job: Obj, type_: str) -> Obj | None:
    """The job's condition ``type_`` when it is True."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            found: Obj = c
            return found
    return None


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


@dataclass(frozen=True)
class PodFailure:
    """A failed pod's account of its attempt."""

    reason: str
    """``pod <name> exited with <code>: <its last word>``."""
    lines: tuple[str, ...]
    """The tail of its termination message or log."""
    permanent: bool
    """Its stage said it failed for good (exit :data:`~pro.errors.PERMANENT_EXIT`, from torchrun's
    report of its worker, else the container's): retrying cannot help."""


def pod_failure(pods: list[Obj], logs: Logs) -> PodFailure | None:
    """The first pod (by name) whose container exited non-zero: its own last word and log tail, from its
    termination message (a PyTorchJob's pods fall back to their log there), else from its log."""
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode") not in (None, 0):
                text = term.get("message") or logs(pod["metadata"]["name"], cs.get("name", ""))
                why = failure_reason(text) or term.get("reason") or "failed"
                reason = f"pod {pod['metadata']['name']} exited with {term['exitCode']}: {why}"
                permanent = stage_exit_code(text, int(term["exitCode"])) == PERMANENT_EXIT
                return PodFailure(reason, tuple(tail(text, LOG_TAIL)), permanent)
    return None


def pods_waiting(pods: list[Obj]) -> list[str]:
    """Why the pods are not running: their containers' waiting reasons and scheduling failures."""
    reasons = []
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                reasons.append(f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": "))
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                reasons.append(f"{c.get('reason')}: {c.get('message', '')}".strip(": "))
    return reasons


def read_job(
    job: Obj, *, succeeded: Obj | None, failed: Obj | None, running: bool, suspended: bool, now: datetime,
    start_deadline: float, pods: Callable[[], list[Obj]], logs: Logs,
) -> JobObservation:  # fmt: skip
    """The observation of a job whose backend has read its status: ``succeeded`` / ``failed`` (the True
    condition, or None), whether it runs (or is held suspended), whether its spec suspends it.  A job
    that neither ran nor ended within ``start_deadline`` of its creation or resumption is given up with
    its pods' waiting reasons."""
    name, attempt = job["metadata"]["name"], attempt_of(job)
    if succeeded is not None:
        finished = parse_rfc3339((job.get("status") or {}).get("completionTime"))
        finished = finished or parse_rfc3339(succeeded.get("lastTransitionTime")) or now
        return JobObservation(name, attempt, RunState.SUCCEEDED, finished, suspended=suspended)
    if failed is not None:
        found = pod_failure(pods(), logs)
        finished = parse_rfc3339(failed.get("lastTransitionTime")) or now
        if found is None:
            why = failed.get("message") or f"job {name} failed"
            return JobObservation(name, attempt, RunState.FAILED, finished, why, suspended=suspended)
        return JobObservation(
            name, attempt, RunState.FAILED, finished, found.reason, found.lines, suspended=suspended,
            permanent=found.permanent,
        )  # fmt: skip
    if running:
        return JobObservation(name, attempt, RunState.RUNNING, suspended=suspended)
    since = _waiting_since(job)
    if since is None or now - since < timedelta(seconds=start_deadline):
        due = (since or now) + timedelta(seconds=start_deadline + 1)
        return JobObservation(name, attempt, RunState.RUNNING, suspended=suspended, recheck_at=due)
    after = "creation" if since == parse_rfc3339(job["metadata"].get("creationTimestamp")) else "resumption"
    detail = "; ".join(pods_waiting(pods())) or NO_POD
    why = f"job {name} not running {int(start_deadline)}s after {after}: {detail}"
    return JobObservation(name, attempt, RunState.FAILED, now, why, abandon=True, suspended=suspended)


# --------------------------------------------------------------------------------- PyTorchJob
@dataclass(frozen=True)
class PyTorchJobs:
    """Kubeflow Training Operator v1 ``PyTorchJob``: conditions Created, Running, Suspended, Succeeded,
    Failed; suspended through ``spec.runPolicy.suspend``; pods labelled with the job's name."""

    kind: str = PYTORCHJOB_KIND
    group: str = KUBEFLOW_GROUP
    version: str = KUBEFLOW_VERSION
    plural: str = PYTORCHJOBS
    release: str = "Kubeflow Training Operator v1.9"
    bulky: tuple[str, ...] = ("pytorchReplicaSpecs",)
    ended: tuple[str, ...] = ("Succeeded", "Failed")

    def suspended(self, job: Obj) -> bool:
        return bool(((job.get("spec") or {}).get("runPolicy") or {}).get("suspend"))

    def pod_selector(self, name: str) -> str:
        return f"{PYTORCHJOB_POD_LABEL}={name}"

    def suspend_patch(self, suspend: bool) -> Obj:
        return {"spec": {"runPolicy": {"suspend": suspend}}}

    def observe(
        self, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]], logs: Logs
    ) -> JobObservation:
        return read_job(
            job, succeeded=_condition(job, "Succeeded"), failed=_condition(job, "Failed"),
            running=bool(_condition(job, "Running") or _condition(job, "Suspended")),
            suspended=self.suspended(job),
            now=now, start_deadline=start_deadline, pods=pods, logs=logs,
        )  # fmt: skip


# ----------------------------------------------------------------------------------- TrainJob
@dataclass(frozen=True)
class TrainJobs:
    """Kubeflow Trainer v2.3 ``TrainJob``: conditions Suspended (True, or False with reason Resumed),
    Complete and Failed (e.g. DeadlineExceeded) — no Running condition: it runs once a child job of its
    JobSet has all its pods ready or finished (``jobsStatus[].ready/succeeded/failed``; ``active`` counts
    pods still pulling their image too, so it cannot tell).  Suspended through ``spec.suspend``; pods
    labelled with their JobSet's name, which is the TrainJob's."""

    kind: str = TRAINJOB_KIND
    group: str = TRAINER_GROUP
    version: str = TRAINER_VERSION
    plural: str = TRAINJOBS
    release: str = "Kubeflow Trainer v2.3"
    bulky: tuple[str, ...] = ("trainer", "runtimePatches")
    ended: tuple[str, ...] = ("Complete", "Failed")

    def suspended(self, job: Obj) -> bool:
        return bool((job.get("spec") or {}).get("suspend"))

    def pod_selector(self, name: str) -> str:
        return f"{JOBSET_NAME_LABEL}={name}"

    def suspend_patch(self, suspend: bool) -> Obj:
        return {"spec": {"suspend": suspend}}

    def observe(
        self, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]], logs: Logs
    ) -> JobObservation:
        children = (job.get("status") or {}).get("jobsStatus") or []
        ran = any(
            (c.get("ready") or 0) + (c.get("succeeded") or 0) + (c.get("failed") or 0) for c in children
        )
        return read_job(
            job, succeeded=_condition(job, "Complete"), failed=_condition(job, "Failed"),
            running=ran or _condition(job, "Suspended") is not None,
            suspended=self.suspended(job),
            now=now, start_deadline=start_deadline, pods=pods, logs=logs,
        )  # fmt: skip


PYTORCHJOB = PyTorchJobs()
TRAINJOB = TrainJobs()

#: every job backend by job kind, in the order ``auto`` prefers them
BACKENDS: dict[str, JobBackend] = {PYTORCHJOB_KIND: PYTORCHJOB, TRAINJOB_KIND: TRAINJOB}


def job_backends() -> tuple[JobBackend, ...]:
    return tuple(BACKENDS.values())


def job_plurals() -> tuple[str, ...]:
    return tuple(b.plural for b in BACKENDS.values())


def backend_of_plural(plural: str) -> JobBackend | None:
    return next((b for b in BACKENDS.values() if b.plural == plural), None)


def holds_slot(backend: JobBackend, job: Obj) -> bool:
    """Whether a job counts against its namespace's limit of running stage jobs: it has not ended
    (succeeded, failed, given up on) and its spec does not hold it suspended (a suspended job has no pods:
    a suspended pipeline's, or one Kueue has not admitted yet)."""
    if (job["metadata"].get("annotations") or {}).get(ABANDONED):
        return False
    if any(_condition(job, t) for t in backend.ended):
        return False
    return not backend.suspended(job)
