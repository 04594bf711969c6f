"""Which job backend runs a stage, and whether the cluster can run it there.

The operator learns at start which Kubeflow job kinds the cluster serves (:func:`discover`, API discovery:
no RBAC needed) and fixes its default: ``--job-backend`` when it names a kind, else (``auto``) PyTorchJob
when its CRD is served, else TrainJob.  A stage's ``kubernetes.jobBackend`` picks a kind itself, or
``auto`` takes the operator's default (once a stage ran a job, ``auto`` keeps the kind it ran, so a
restarted operator with another default does not start the same work twice).

Bad input fails at once with a condition naming the field and what is installed, never a retry loop
(:class:`Refusal`): a backend the cluster does not serve, settings a TrainJob cannot express, a training
runtime that does not exist or cannot run torchrun.  Runtimes are listed only when a TrainJob is about to
be created, and the listing is remembered for :data:`RUNTIMES_TTL` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pro.render.trainjob import RuntimeRef, runtime_problems, settings_problems
from pro.spec.conventions import (
    AUTO_BACKEND,
    CLUSTER_TRAINING_RUNTIME,
    CLUSTER_TRAINING_RUNTIMES,
    DEFAULT_TRAINING_RUNTIME,
    TRAINER_GROUP,
    TRAINER_VERSION,
    TRAINING_RUNTIMES,
    TRAINJOB_KIND,
)
from pro.spec.execution import KubernetesSettings, StageExecution
from pro_operator.jobs import BACKENDS, JobBackend
from pro_operator.kube import Forbidden, Kube, NotFound

log = logging.getLogger("pro_operator.backends")

Obj = dict[str, Any]
#: how long a listing of training runtimes is believed
RUNTIMES_TTL = 30.0
#: a runtime kind's plural
RUNTIME_PLURALS = {CLUSTER_TRAINING_RUNTIME: CLUSTER_TRAINING_RUNTIMES, "TrainingRuntime": TRAINING_RUNTIMES}


@dataclass(frozen=True)
class JobSupport:
    """What the cluster serves and what the operator defaults to."""

    served: tuple[str, ...] = tuple(BACKENDS)
    """Job kinds whose CRD the cluster serves (in :data:`~pro_operator.jobs.BACKENDS` order)."""
    preferred: str = AUTO_BACKEND
    """The operator's ``--job-backend``."""
    runtime: str = DEFAULT_TRAINING_RUNTIME
    """The operator's ``--training-runtime``: a TrainJob's runtime unless the stage names one."""

    @property
    def default(self) -> str | None:
        """The kind a stage left on ``auto`` runs as (None: the cluster serves no Kubeflow job)."""
        if self.preferred != AUTO_BACKEND:
            return self.preferred
        return self.served[0] if self.served else None

    def describe(self) -> str:
        """One line for the operator's log: the default and why."""
        served = ", ".join(f"{k} ({BACKENDS[k].group}/{BACKENDS[k].version})" for k in self.served) or "none"
        why = "--job-backend" if self.preferred != AUTO_BACKEND else "auto"
        return f"job backend {self.default or 'none'} ({why}); the cluster serves: {served}"

    def installed(self) -> str:
        return ", ".join(self.served) or "no Kubeflow job (install Training Operator v1 or Trainer v2.3)"


@dataclass(frozen=True)
class Refusal:
    """Why a stage (or pipeline) cannot run here: a condition reason and a message naming the field."""

    reason: str
    message: str
    recheck_seconds: float | None = None
    """Look again this much later even if the object does not change (what it depends on may change
    outside it, e.g. a Secret's labels); None: on its next change only."""


def discover(
    kube: Kube, *, preferred: str = AUTO_BACKEND, runtime: str = DEFAULT_TRAINING_RUNTIME
) -> JobSupport:
    """The job kinds the cluster serves, by API discovery."""
    served = tuple(kind for kind, b in BACKENDS.items() if b.plural in kube.served(b.group, b.version))
    return JobSupport(served, preferred, runtime)


def choose(
    k8s: KubernetesSettings, support: JobSupport, *, ran: str | None = None, field_prefix: str
) -> JobBackend | Refusal:
    """The backend of a stage (or a pipeline) with these settings: its own ``jobBackend``, else the kind
    it ``ran`` before, else the operator's default; refused when the cluster does not serve it."""
    own = k8s.job_backend != AUTO_BACKEND
    kind = k8s.job_backend if own else (ran if ran in BACKENDS else support.default)
    where = f"{field_prefix}kubernetes.jobBackend"
    if kind is None:
        return Refusal("JobBackendUnavailable", f"{where}: auto, but {support.installed()} is served")
    if kind not in support.served:
        b = BACKENDS[kind]
        said = kind if own else f"auto, the operator's default {kind}"
        return Refusal(
            "JobBackendUnavailable",
            f"{where}: {said}, but {b.plural}.{b.group}/{b.version} is not served by this cluster "
            f"(installed: {support.installed()})",
        )
    return BACKENDS[kind]


def settings_refusal(execution: StageExecution, backend: JobBackend, *, field_prefix: str) -> Refusal | None:
    """What ``backend`` cannot express of these settings (pure)."""
    if backend.kind != TRAINJOB_KIND:
        return None
    found = settings_problems(execution)
    if not found:
        return None
    return Refusal("JobSettingsUnsupported", "; ".join(f"{field_prefix}{path}: {why}" for path, why in found))


@dataclass
class Runtimes:
    """Training runtimes as listed (by kind and namespace), remembered for :data:`RUNTIMES_TTL` seconds;
    a kind this operator may not list (a namespaced install cannot list ClusterTrainingRuntimes) is not
    checked (Trainer's admission webhook then refuses a TrainJob whose runtime is missing); that is said
    once per kind and namespace, at warning level, and asked again every ``ttl`` seconds without a word
    (a grant added later is picked up)."""

    ttl: float = RUNTIMES_TTL
    _listed: dict[tuple[str, str], tuple[float, dict[str, Obj] | None]] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refusal(self, kube: Kube, ref: RuntimeRef, namespace: str, *, field_prefix: str) -> Refusal | None:
        """Why the runtime ``ref`` cannot run a stage in ``namespace`` (None: it can, or cannot be told)."""
        found = self.listed(kube, ref.kind, namespace)
        if found is None:
            return None
        where = f"{field_prefix}kubernetes.trainingRuntime"
        runtime = found.get(ref.name)
        if runtime is None:
            scope = "" if ref.kind == CLUSTER_TRAINING_RUNTIME else f" in namespace {namespace}"
            installed = ", ".join(sorted(found)) or "none"
            return Refusal(
                "TrainingRuntimeNotFound",
                f"{where}: {ref} not found{scope} (installed {ref.kind}s: {installed})",
            )
        problems = runtime_problems(runtime)
        if problems:
            torch = sorted(n for n, r in found.items() if not runtime_problems(r)) or ["none"]
            return Refusal(
                "TrainingRuntimeUnsupported",
                f"{where}: {'; '.join(problems)} (installed {ref.kind}s that can: {', '.join(torch)})",
            )
        return None

    def listed(self, kube: Kube, kind: str, namespace: str) -> dict[str, Obj] | None:
        """The runtimes of ``kind`` by name (None: not allowed to list them)."""
        key = (kind, "" if kind == CLUSTER_TRAINING_RUNTIME else namespace)
        now = time.monotonic()
        with self._lock:
            hit = self._listed.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        plural = RUNTIME_PLURALS[kind]
        scope = None if kind == CLUSTER_TRAINING_RUNTIME else namespace
        found: dict[str, Obj] | None
        try:
            items = kube.list_objects(TRAINER_GROUP, TRAINER_VERSION, plural, scope)
            found = {o["metadata"]["name"]: o for o in items}
        except Forbidden as err:
            with self._lock:
                first = key not in self._warned
                self._warned.add(key)
            (log.warning if first else log.debug)(
                "training runtimes are not checked before a TrainJob is created: %s", err
            )
            found = None
        except NotFound:  # no runtime CRD: none installed
            found = {}
        with self._lock:
            self._listed[key] = (now, found)
        return found
