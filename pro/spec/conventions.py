"""The API vocabulary, in one place: our group and version, every label and annotation key, the Kubeflow and
Kueue keys, and the naming, time and URI rules everything that names or stamps an object follows.

Everything else imports these names; ``operator/pro_operator/rbac.py`` derives its rules from them and from
the kind table (:mod:`pro.spec.kinds`).  Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final, Literal

# ---------------------------------------------------------------- our API
API_GROUP: Final = "pro.alignment.dev"
API_VERSION: Final = "v1alpha1"
GROUP_VERSION: Final[Literal["pro.alignment.dev/v1alpha1"]] = "pro.alignment.dev/v1alpha1"
DEFAULT_NAMESPACE: Final = "default"
"""The namespace of an object that names none (also the artifact path's namespace for ``pro run``)."""

# ---------------------------------------------------------------- labels (on everything we create)
PIPELINE_LABEL: Final = f"{API_GROUP}/pipeline"
"""On a pipeline's stage resources, ConfigMaps and jobs: the pipeline's name."""
STAGE_LABEL: Final = f"{API_GROUP}/stage"
"""On a pipeline's stage resources: the stage's name in the pipeline (``rm-<objective>``, ``adapter``, …)."""
STAGE_RESOURCE_LABEL: Final = f"{API_GROUP}/stage-resource"
"""On a stage resource's ConfigMap and jobs: the stage resource's name."""
ATTEMPT_LABEL: Final = f"{API_GROUP}/attempt"
"""On a stage resource's jobs: the attempt number (1, 2, …)."""
SCHEDULE_LABEL: Final = f"{API_GROUP}/schedule"
"""On every pipeline a schedule creates: the schedule's name."""
INDEXED_LABELS: Final = (PIPELINE_LABEL, STAGE_RESOURCE_LABEL, SCHEDULE_LABEL)
"""The labels the operator's cache indexes (reconcilers look objects up by them)."""

# ---------------------------------------------------------------- annotations
WORK_DIGEST: Final = f"{API_GROUP}/work-digest"
"""On a stage resource and its jobs: the stage's work digest (see :mod:`pro.planner.graph`)."""
SCHEDULED_AT: Final = f"{API_GROUP}/scheduled-at"
"""On a pipeline a schedule created: the firing's scheduled time (RFC 3339)."""
ABANDONED: Final = f"{API_GROUP}/abandoned"
"""On a job given up on before it ran (stuck in Created): why."""
ABANDONED_AT: Final = f"{API_GROUP}/abandoned-at"
"""On a job given up on before it ran: when (RFC 3339)."""
CRD_BODY_DIGEST: Final = f"{API_GROUP}/body-digest"
"""On a CRD of ours the test harness installed (:func:`pro.testing.kubeflow.install_crd`): the sha256 of
the body it installed, so installing the same body again is one read, not a replace."""

# ---------------------------------------------------------------- Kubeflow and Kueue
KUBEFLOW_GROUP: Final = "kubeflow.org"
KUBEFLOW_VERSION: Final = "v1"
PYTORCHJOB_API_VERSION: Final = f"{KUBEFLOW_GROUP}/{KUBEFLOW_VERSION}"
PYTORCHJOBS: Final = "pytorchjobs"
PYTORCHJOB_POD_LABEL: Final = "training.kubeflow.org/job-name"
"""The training operator's label on a PyTorchJob's pods: the job's name."""
KUEUE_QUEUE_LABEL: Final = "kueue.x-k8s.io/queue-name"

PYTORCHJOB_KIND: Final = "PyTorchJob"
"""Kubeflow Training Operator v1's job kind (``kubeflow.org/v1``)."""
TRAINJOB_KIND: Final = "TrainJob"
"""Kubeflow Trainer v2's job kind (``trainer.kubeflow.org/v1alpha1``)."""
AUTO_BACKEND: Final = "auto"
"""A job backend left to the operator: its default, else whichever Kubeflow the cluster serves."""
TRAINER_GROUP: Final = "trainer.kubeflow.org"
TRAINER_VERSION: Final = "v1alpha1"
TRAINJOB_API_VERSION: Final = f"{TRAINER_GROUP}/{TRAINER_VERSION}"
TRAINJOBS: Final = "trainjobs"
CLUSTER_TRAINING_RUNTIME: Final = "ClusterTrainingRuntime"
TRAINING_RUNTIME: Final = "TrainingRuntime"
CLUSTER_TRAINING_RUNTIMES: Final = "clustertrainingruntimes"
TRAINING_RUNTIMES: Final = "trainingruntimes"
DEFAULT_TRAINING_RUNTIME: Final = "torch-distributed"
"""The runtime a TrainJob names unless told otherwise: Trainer's torchrun runtime."""
TRAINER_NODE: Final = "node"
"""The trainer's replicated job and container in a torch runtime (``torch-distributed``)."""
TRAINER_ANCESTOR_LABEL: Final = f"{TRAINER_GROUP}/trainjob-ancestor-step"
"""On a runtime's replicated job: which step it runs (``trainer`` for the training nodes)."""
TRAINJOB_PATCH_MANAGER: Final = f"{API_GROUP}/operator"
"""Our entry in a TrainJob's ``runtimePatches`` (entries are keyed by manager)."""
TORCH_RESERVED_ENV: Final = (
    "PET_NNODES",
    "PET_NPROC_PER_NODE",
    "PET_NODE_RANK",
    "PET_MASTER_ADDR",
    "PET_MASTER_PORT",
)
"""What Trainer's torch plugin injects into the trainer container, and rejects in ``trainer.env``."""
JOBSET_NAME_LABEL: Final = "jobset.sigs.k8s.io/jobset-name"
"""JobSet's label on every pod of a JobSet (a TrainJob's JobSet has the TrainJob's name)."""
JOBSET_REPLICATED_JOB_LABEL: Final = "jobset.sigs.k8s.io/replicatedjob-name"
"""JobSet's label on a pod: its replicated job (``node`` for a torch runtime's trainer)."""
JOB_COMPLETION_INDEX_LABEL: Final = "batch.kubernetes.io/job-completion-index"
"""An indexed Job's label on a pod: its index (a TrainJob node's rank)."""

# ---------------------------------------------------------------- the stage pod's files
SPEC_DIR: Final = "/etc/pro"
"""Where a stage pod mounts its ConfigMap."""
SPEC_KEY: Final = "stage.yaml"
"""The ConfigMap key (and file name) of the stage resource a pod runs."""

# ---------------------------------------------------------------- rules
MAX_NAME: Final = 63
"""Kubernetes' limit for names that become labels or DNS labels."""
MAX_SUBDOMAIN: Final = 253
"""Kubernetes' limit for DNS-subdomain names (a ConfigMap's, a Secret's)."""


def k8s_name(name: str, limit: int = MAX_NAME, *, suffix: str = "") -> str:
    """``name + suffix`` within ``limit`` characters: when too long, ``name`` is cut and an 8-character
    hash of the whole of it keeps distinct long names distinct (``suffix`` is always kept whole)."""
    if len(name) + len(suffix) <= limit:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(suffix) - len(digest) - 1].rstrip('-')}-{digest}{suffix}"


def rfc3339(t: datetime) -> str:
    """``t`` as the API server writes times: UTC, whole seconds, ``Z`` (a naive ``t`` is taken as UTC)."""
    aware = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def join_uri(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended by "/", keeping its form (``s3://``, ``file://`` or a path); empty
    parts are skipped and no part's own leading or trailing "/" doubles a separator."""
    out = base
    for raw in parts:
        part = raw.strip("/")
        if not part:
            continue
        out = part if not out else (out if out.endswith("/") else out + "/") + part
    return out
