"""How a stage runs on a cluster: image, resources, scheduling, retries and store access.

The pipeline fills one :class:`StageExecution` into each stage resource it composes (the operator reads
it); a stage resource applied on its own sets it by hand.  It never changes what a stage computes, so
it is left out of the stage's digest, and ``pro stage`` / ``pro run`` ignore what does not apply locally.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pro.spec.base import SpecModel
from pro.spec.conventions import CLUSTER_TRAINING_RUNTIME
from pro.spec.k8s import (
    INT32_MAX,
    QUANTITY,
    DnsSubdomain,
    Image,
    Labels,
    LabelValue,
    Quantity,
    qualified_name_problem,
)
from pro.spec.rules import problems_at

DEFAULT_IMAGE = "ghcr.io/pro-pipeline/trainer:latest"

ResourceAmount = Annotated[int, Field(ge=0)] | Quantity
"""A resource quantity: a whole number (``4``) or a Kubernetes quantity string (``500m``, ``16Gi``)."""


class StageResources(SpecModel):
    """What one stage gets: processes and, on a cluster, replicas, GPUs, CPU and memory."""

    replicas: int = Field(default=1, ge=1, le=INT32_MAX)
    """Cluster: nodes (pods) of the stage's job: a PyTorchJob's Master and Workers, a TrainJob's
    ``numNodes``.  Locally the stage runs as one node."""
    processes_per_node: int = Field(default=1, ge=1, le=INT32_MAX)
    """``torchrun --nproc-per-node``: processes per pod (usually one per GPU), and locally."""
    gpus: int = Field(default=0, ge=0, le=INT32_MAX)
    """Cluster: ``nvidia.com/gpu`` per pod."""
    cpu: ResourceAmount | None = None
    """Cluster: CPU request and limit per pod (a Kubernetes quantity, e.g. ``8`` or ``500m``)."""
    memory: ResourceAmount | None = None
    """Cluster: memory request and limit per pod (e.g. ``64Gi``)."""
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    """Cluster: the job fails after running this long (a PyTorchJob's ``runPolicy.activeDeadlineSeconds``,
    a TrainJob's ``activeDeadlineSeconds``)."""


class RetrySettings(SpecModel):
    """Retries of a failed stage, with exponential backoff."""

    limit: int = Field(default=2, ge=0, le=100)
    """Retries after the first attempt (0: the pipeline fails at a stage's first failure)."""
    backoff_seconds: float = Field(default=30.0, ge=0.0)
    """Wait before the first retry."""
    factor: float = Field(default=2.0, ge=1.0)
    """Each further retry waits this many times longer."""
    max_backoff_seconds: float = Field(default=600.0, ge=0.0)
    """Upper bound of one wait."""


class Toleration(SpecModel):
    """A Kubernetes ``Toleration`` of the stage pods."""

    key: str | None = None
    """The taint key to tolerate (a label key); unset with ``operator: Exists`` tolerates every taint."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """``Equal`` (the taint's value must be ``value``) or ``Exists`` (any value)."""
    value: LabelValue | None = None
    """The taint value to match (``operator: Equal``)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """The taint effect to tolerate; unset: every effect."""
    toleration_seconds: int | None = None
    """How long a pod stays bound to a node with a ``NoExecute`` taint (needs ``effect: NoExecute``)."""

    @model_validator(mode="after")
    def _kubernetes_rules(self) -> Toleration:
        bad: list[tuple[tuple[str | int, ...], str]] = []
        if self.key and (why := qualified_name_problem(self.key)):
            bad.append((("key",), f"taint key {self.key!r}: {why}"))
        if self.key in (None, "") and self.operator != "Exists":
            bad.append((("operator",), "a toleration without 'key' needs operator: Exists"))
        if self.operator == "Exists" and self.value:
            bad.append((("value",), f"operator: Exists takes no value, got {self.value!r}"))
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            bad.append((("tolerationSeconds",), "tolerationSeconds applies only to effect: NoExecute"))
        if bad:
            raise problems_at("Toleration", bad)
        return self


#: what runs a stage's attempts on a cluster
JobBackendChoice = Literal["auto", "PyTorchJob", "TrainJob"]


class KubernetesSettings(SpecModel):
    """Cluster only: how the operator runs the stages' jobs (ignored by ``pro run``)."""

    job_backend: JobBackendChoice = "auto"
    """The Kubeflow job that runs each attempt: ``PyTorchJob`` (Training Operator v1, ``kubeflow.org/v1``),
    ``TrainJob`` (Kubeflow Trainer v2.3, ``trainer.kubeflow.org/v1alpha1``) or ``auto``: the operator's
    default (its ``--job-backend``), which itself defaults to whichever the cluster serves (PyTorchJob when
    both are installed)."""
    training_runtime: str | None = Field(default=None, min_length=1, max_length=253)
    """TrainJob only: the training runtime it names (``runtimeRef``), a torchrun runtime whose trainer
    job and container are named ``node``; default: the operator's (its ``--training-runtime``, itself
    ``torch-distributed``)."""
    training_runtime_kind: Literal["ClusterTrainingRuntime", "TrainingRuntime"] = CLUSTER_TRAINING_RUNTIME
    """TrainJob only: a cluster-wide ``ClusterTrainingRuntime`` or a ``TrainingRuntime`` in the stage's
    namespace."""

    service_account_name: DnsSubdomain | None = None
    """Service account of the stage pods (e.g. one bound to an IAM role for S3)."""
    queue: LabelValue | None = None
    """Kueue LocalQueue: sets the ``kueue.x-k8s.io/queue-name`` label on every job."""
    priority_class_name: DnsSubdomain | None = None
    """PriorityClass of the stage pods (PyTorchJob only: a TrainJob takes its runtime's)."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """Pull policy of the trainer image (PyTorchJob; a TrainJob's is its runtime's)."""
    image_pull_secrets: list[DnsSubdomain] = Field(default_factory=list)
    """Secrets used to pull the trainer image."""
    node_selector: Labels = Field(default_factory=dict)
    """Node labels the stage pods must match (label keys and values, as Kubernetes checks them)."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Tolerations of the stage pods (Kubernetes ``Toleration`` objects)."""
    ttl_seconds_after_finished: int | None = Field(default=86400, ge=0, le=INT32_MAX)
    """Delete a finished PyTorchJob's pods after this long (``runPolicy.ttlSecondsAfterFinished``; a
    TrainJob's pods live as long as its JobSet, whose TTL is its runtime's)."""
    start_deadline_seconds: int = Field(default=900, ge=1)
    """A job still not running after this long (image pull errors, no room to schedule) counts as a
    failed attempt with the reason, instead of waiting forever."""


class StorageAccess(SpecModel):
    """How stages reach the S3 store (never the credentials themselves)."""

    endpoint_url: str | None = None
    """S3 endpoint for S3-compatible stores (MinIO, Ceph); default: the AWS chain
    (``AWS_ENDPOINT_URL_S3``) or AWS itself."""
    region: str | None = None
    """S3 region; default: the AWS chain."""
    credentials_secret: DnsSubdomain | None = None
    """Cluster only: a Secret in the pipeline's namespace with ``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY`` (and optionally ``AWS_SESSION_TOKEN``), exposed to every stage pod as
    environment variables.  Leave unset to use the service account's role (IRSA) or node credentials."""

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in ("http", "https") or not rest.strip("/"):
            raise ValueError(f"{value!r} is not an http:// or https:// URL (e.g. http://minio.store:9000)")
        if "@" in rest.partition("/")[0]:
            raise ValueError(
                "the endpoint URL holds credentials (user:secret@host): name a credentialsSecret instead, "
                "never put secrets in the spec"
            )
        return value


class StageExecution(SpecModel):
    """Cluster only: how the operator runs a stage as a Kubeflow job (a PyTorchJob or a TrainJob)."""

    image: Image = DEFAULT_IMAGE
    """The trainer image the stage's pods run."""
    resources: StageResources = Field(default_factory=StageResources)
    """Replicas, processes, GPUs, CPU and memory."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    """Retries of a failed job."""
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    """Scheduling of the job's pods."""
    storage: StorageAccess = Field(default_factory=StorageAccess)
    """S3 endpoint, region and credentials Secret for the pods."""
    suspend: bool = False
    """Start no job and suspend a running one (a PyTorchJob's ``runPolicy.suspend``, a TrainJob's
    ``suspend``) until set back to false; a pipeline sets it on its stages from its own ``suspend``."""


__all__ = [
    "DEFAULT_IMAGE",
    "QUANTITY",
    "JobBackendChoice",
    "KubernetesSettings",
    "ResourceAmount",
    "RetrySettings",
    "StageExecution",
    "StageResources",
    "StorageAccess",
    "Toleration",
]
