"""Tenant guardrails, enforced: what a pro resource asks of the cluster is checked against the platform's
:class:`~pro.spec.guardrails.Guardrails` (``--guardrails``) before anything is created for it, and a
namespace runs at most ``maxRunningJobsPerNamespace`` stage jobs at once.

- :func:`refusal`: the pure checks (image, ServiceAccount, PriorityClass, tolerations, node-selector keys,
  training runtime)
  and the credentials Secret's labels, read as metadata only → a
  :class:`~pro_operator.backends.Refusal` (reason ``NotAllowed``) naming every field as the object has it.
  A pipeline is refused with its own field paths (``spec.image``), a stage resource with its
  (``spec.execution.image``).  Nothing of a refused object is created, nothing retried; one Secret is
  looked at again every :data:`SECRET_RECHECK` seconds (labelling it lets the object go on).
- :func:`queue_reason`: whether a stage about to start a job waits for a slot (stages waiting longer,
  oldest first, get the free ones), decided under :meth:`~pro_operator.context.Context.slot_lock` so that
  concurrent reconciles never exceed the limit; :func:`wake_queued`: the waiting stages a free slot is for.
  The jobs are counted from the cache (:meth:`~pro_operator.cache.ObjectCache.running_jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pro.spec.execution import StageExecution
from pro.spec.guardrails import NOT_ALLOWED, describe
from pro.spec.kinds import kind_of_plural, stage_kinds
from pro.spec.status import StagePhase
from pro_operator.backends import Refusal
from pro_operator.context import Context

#: a refusal that depends on a Secret is looked at again this often (seconds)
SECRET_RECHECK = 60.0
#: a queued stage looks again this often even when no event wakes it (seconds)
QUEUED_RECHECK = 30.0


def refusal(ctx: Context, namespace: str, execution: StageExecution, *, field_prefix: str) -> Refusal | None:
    """Why the guardrails refuse ``execution`` in ``namespace`` (None: they allow it); the paths are
    ``field_prefix`` + the path under ``execution``."""
    g = ctx.guardrails
    found = g.problems(execution, default_runtime=ctx.jobs.runtime)
    secret = execution.storage.credentials_secret
    depends_on_secret = False
    if secret and g.credentials_secret_label:
        why = g.secret_problem(secret, ctx.kube.secret_labels(namespace, secret))
        if why is not None:
            found.append(("storage.credentialsSecret", why))
            depends_on_secret = True
    if not found:
        return None
    return Refusal(NOT_ALLOWED, describe(found, field_prefix), SECRET_RECHECK if depends_on_secret else None)


@dataclass(frozen=True, order=True)
class Waiting:
    """A stage resource waiting for a job slot, in the order slots go to them: oldest first."""

    created: str
    """Its ``creationTimestamp`` (RFC 3339 sorts as text)."""
    plural: str
    name: str
    kind: str


def waiting(ctx: Context, namespace: str) -> list[Waiting]:
    """The stage resources of ``namespace`` in phase Queued, oldest first."""
    found = []
    for kind in stage_kinds():
        for name in ctx.cache.in_phase(kind.plural, namespace, StagePhase.QUEUED.value):
            body = ctx.cache.get(kind.plural, namespace, name)
            if body is not None:
                created = body["metadata"].get("creationTimestamp") or ""
                found.append(Waiting(created, kind.plural, name, kind.name))
    return sorted(found)


def queue_reason(ctx: Context, plural: str, body: dict[str, Any]) -> str | None:
    """Why the stage resource ``body`` may not start a job now (None: a slot is free for it): its
    namespace runs as many jobs as allowed, counting the slots that stages waiting longer are due."""
    limit = ctx.guardrails.max_running_jobs_per_namespace
    if not limit:
        return None
    meta = body["metadata"]
    namespace, kind = meta["namespace"], kind_of_plural(plural)
    me = Waiting(meta.get("creationTimestamp") or "", plural, meta["name"], kind.name if kind else "")
    running = ctx.cache.running_jobs(namespace)
    holders = set(running.values())
    ahead = [w for w in waiting(ctx, namespace) if w < me and (w.kind, w.name) not in holders]
    if len(running) + len(ahead) < limit:
        return None
    return f"namespace limit {limit} running jobs reached"


def wake_queued(ctx: Context, namespace: str) -> None:
    """Reconcile the waiting stages of ``namespace`` that the free slots are for (oldest first)."""
    limit = ctx.guardrails.max_running_jobs_per_namespace
    if not limit:
        return
    running = ctx.cache.running_jobs(namespace)
    free = limit - len(running)
    holders = set(running.values())
    for w in waiting(ctx, namespace):
        if free <= 0:
            return
        if (w.kind, w.name) not in holders:  # its job started; its status says so in a moment
            ctx.enqueue((w.plural, namespace, w.name))
            free -= 1
