"""What an attempt's job says: its state, why it failed, whether it is stuck before running.

The stage controller sees jobs only through a :class:`JobBackend`: the kind's API coordinates, which
attempt a job is, how to suspend it, and :meth:`JobBackend.observe`, which reads a job body (and, for a
failure or a job that never starts, its pods) into a :class:`JobObservation`.  :data:`PYTORCHJOB`
(Kubeflow Training Operator v1) is the one backend today; another — Kubeflow Trainer v2's TrainJob —
goes into :data:`BACKENDS` behind the same observation, and the watches, RBAC rules and controller
follow the table.
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
    KUBEFLOW_GROUP,
    KUBEFLOW_VERSION,
    PYTORCHJOB_POD_LABEL,
    PYTORCHJOBS,
    parse_rfc3339,
)
from pro_operator.kube import Ref

Obj = dict[str, Any]
#: the failing pod's last log lines kept in a final failure's message
LOG_TAIL = 20
NO_POD = "no pod is running (image pull errors or no room to schedule?)"


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
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def plural(self) -> str: ...

    def observe(
        self, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]]
    ) -> JobObservation:
        """The attempt's state from its ``job`` body; ``pods()`` lists its pods (called only when
        needed: a failure's reason, a stuck job's)."""
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
    backend: JobBackend, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]]
) -> JobObservation:
    """The attempt a job runs: failed for good once given up on (see :func:`abandon_patch`), else what
    the backend reads from it."""
    annotations = job["metadata"].get("annotations") or {}
    if annotations.get(ABANDONED):
        finished = parse_rfc3339(annotations.get(ABANDONED_AT)) or now
        name = job["metadata"]["name"]
        return JobObservation(name, attempt_of(job), RunState.FAILED, finished, annotations[ABANDONED])
    return backend.observe(job, now=now, start_deadline=start_deadline, pods=pods)


def abandon_patch(backend: JobBackend, reason: str, at: str) -> Obj:
    """Give a job up: annotated with why and when (kept as the attempt's record), suspended to free its
    pods."""
    return {"metadata": {"annotations": {ABANDONED: reason, ABANDONED_AT: at}}, **backend.suspend_patch(True)}


# --------------------------------------------------------------------------------- PyTorchJob
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


def pod_failure(pods: list[Obj]) -> tuple[str, tuple[str, ...]] | None:
    """The first pod (by name) whose container exited non-zero: its own last word and log tail."""
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode") not in (None, 0):
                text = term.get("message") or ""
                why = failure_reason(text) or term.get("reason") or "failed"
                reason = f"pod {pod['metadata']['name']} exited with {term['exitCode']}: {why}"
                return reason, tuple(tail(text, LOG_TAIL))
    return None


def failed_for_good(pods: list[Obj]) -> bool:
    """Whether the first failing pod (as :func:`pod_failure` picks it) says its stage failed for good: its
    stage's exit code (torchrun's report in the termination message, else the container's) is
    :data:`~pro.errors.PERMANENT_EXIT`."""
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode") not in (None, 0):
                return stage_exit_code(term.get("message") or "", int(term["exitCode"])) == PERMANENT_EXIT
    return False


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


@dataclass(frozen=True)
class PyTorchJobs:
    """Kubeflow Training Operator v1 ``PyTorchJob``: conditions Created, Running, Suspended, Succeeded,
    Failed; suspended through ``spec.runPolicy.suspend``."""

    group: str = KUBEFLOW_GROUP
    version: str = KUBEFLOW_VERSION
    plural: str = PYTORCHJOBS

    def pod_selector(self, name: str) -> str:
        return f"{PYTORCHJOB_POD_LABEL}={name}"

    def suspend_patch(self, suspend: bool) -> Obj:
        return {"spec": {"runPolicy": {"suspend": suspend}}}

    def observe(
        self, job: Obj, *, now: datetime, start_deadline: float, pods: Callable[[], list[Obj]]
    ) -> JobObservation:
        name, attempt = job["metadata"]["name"], attempt_of(job)
        suspended = bool(((job.get("spec") or {}).get("runPolicy") or {}).get("suspend"))
        if _condition(job, "Succeeded"):
            finished = parse_rfc3339((job.get("status") or {}).get("completionTime")) or now
            return JobObservation(name, attempt, RunState.SUCCEEDED, finished, suspended=suspended)
        failed = _condition(job, "Failed")
        if failed is not None:
            listed = pods()
            found = pod_failure(listed)
            reason, lines = found or (failed.get("message") or f"job {name} failed", ())
            finished = parse_rfc3339(failed.get("lastTransitionTime")) or now
            return JobObservation(
                name, attempt, RunState.FAILED, finished, reason, lines, suspended=suspended,
                permanent=failed_for_good(listed),
            )  # fmt: skip
        if _condition(job, "Running") or _condition(job, "Suspended"):
            return JobObservation(name, attempt, RunState.RUNNING, suspended=suspended)
        since = _waiting_since(job)
        if since is None or now - since < timedelta(seconds=start_deadline):
            due = (since or now) + timedelta(seconds=start_deadline + 1)
            return JobObservation(name, attempt, RunState.RUNNING, suspended=suspended, recheck_at=due)
        after = (
            "creation" if since == parse_rfc3339(job["metadata"].get("creationTimestamp")) else "resumption"
        )
        detail = "; ".join(pods_waiting(pods())) or NO_POD
        why = f"job {name} not running {int(start_deadline)}s after {after}: {detail}"
        return JobObservation(name, attempt, RunState.FAILED, now, why, abandon=True, suspended=suspended)


PYTORCHJOB = PyTorchJobs()

#: every job backend by job kind
BACKENDS: dict[str, JobBackend] = {"PyTorchJob": PYTORCHJOB}


def job_backends() -> tuple[JobBackend, ...]:
    return tuple(BACKENDS.values())


def job_plurals() -> tuple[str, ...]:
    return tuple(b.plural for b in BACKENDS.values())
