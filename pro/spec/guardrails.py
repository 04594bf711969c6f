"""Tenant guardrails: what a pro resource may ask of the cluster, as the platform team allows it.

Whoever may create a pro resource in a namespace has the operator create pods there: with the image,
ServiceAccount, credentials Secret, tolerations, node selector and PriorityClass the resource names.  The
platform team bounds that in the chart (``guardrails`` values: this model, camelCase); the operator reads
them once at start (``--guardrails FILE``, the chart's mounted ConfigMap) and refuses an object that asks
for more before it creates anything — a condition naming the field and the rule, one Warning Event, no job.

Pure: :meth:`Guardrails.problems` lists what an execution asks that the guardrails do not allow, by field
path under ``execution`` (a pipeline's ``spec.`` and a stage resource's ``spec.execution.`` share them);
:meth:`Guardrails.secret_problem` judges a credentials Secret by the labels the operator read.  How every
stage pod is hardened whatever it asks (no ServiceAccount token, size-limited scratch space) is
:class:`PodPolicy`, which the job renderer applies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from pro.spec.base import SpecModel
from pro.spec.conventions import API_GROUP, CLUSTER_TRAINING_RUNTIME, DEFAULT_TRAINING_RUNTIME
from pro.spec.execution import DEFAULT_IMAGE, StageExecution, Toleration
from pro.spec.k8s import Quantity, qualified_name_problem
from pro.spec.openapi import clean_text

#: the label a Secret must carry (value ``"true"``) before pro pods may read it as S3 credentials
CREDENTIALS_LABEL = f"{API_GROUP}/credentials"
#: the trainer image repository the chart ships
TRAINER_REPOSITORY = DEFAULT_IMAGE.rsplit(":", 1)[0]
#: the ServiceAccount a pod runs as when it names none: always allowed
DEFAULT_SERVICE_ACCOUNT = "default"
#: the condition (and Event) reason of an object the guardrails refuse
NOT_ALLOWED = "NotAllowed"


class AllowedToleration(SpecModel):
    """Tolerations stage pods may carry: those of taint ``key`` with ``effect``."""

    key: str = Field(min_length=1)
    """A taint key (``nvidia.com/gpu``), a pattern of them (``example.com/*``), or ``*`` for every key —
    the only rule that allows a toleration without a key (which tolerates every taint)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """The taint effect allowed; unset: every effect (the only rule that allows a toleration without an
    effect)."""

    def allows(self, t: Toleration) -> bool:
        key_ok = self.key == "*" or (
            t.key is not None and t.key != "" and fnmatch.fnmatchcase(t.key, self.key)
        )
        return key_ok and (self.effect is None or self.effect == t.effect)

    def __str__(self) -> str:
        return f"{self.key} ({self.effect or 'any effect'})"


class PodPolicy(SpecModel):
    """How every stage pod is hardened, whatever its stage asks."""

    automount_service_account_token: bool = False
    """Mount the ServiceAccount's API token into stage pods.  Stages never call the Kubernetes API, so
    the default is false: code in a stage pod cannot act as its ServiceAccount (IRSA's web-identity token
    is mounted by its own webhook either way).  A TrainJob's pods follow its runtime's pod template."""
    tmp_size_limit: Quantity = "20Gi"
    """``sizeLimit`` of the writable ``/tmp`` emptyDir (checkpoints, the model cache): a pod that writes
    more is evicted instead of filling its node's disk."""
    shm_size_limit: Quantity = "16Gi"
    """``sizeLimit`` of a GPU stage's memory-backed ``/dev/shm`` when the stage sets no memory (with
    ``resources.memory``, the memory is its limit)."""


class Guardrails(SpecModel):
    """What pro resources may ask of the cluster: images, ServiceAccounts, credentials Secrets,
    tolerations, PriorityClasses, node-selector keys, and how many stage jobs run at once per namespace.
    Patterns are shell-style (``*`` matches any characters, ``/`` and ``:`` included; ``?``, ``[...]``)."""

    allowed_images: list[str] = Field(
        default_factory=lambda: [f"{TRAINER_REPOSITORY}:*", f"{TRAINER_REPOSITORY}@sha256:*"]
    )
    """Image patterns stage pods may run, matched against the fully qualified reference
    (``python:3.11`` is ``docker.io/library/python:3.11``; an untagged image is ``:latest``): end a pattern
    with ``:*`` for any tag of one repository, ``/*`` for every repository below a path; ``*`` allows any
    image.  Default: the trainer image the chart ships, any tag or digest."""
    allowed_service_accounts: list[str] = Field(default_factory=list)
    """ServiceAccount name patterns a resource may name (``kubernetes.serviceAccountName``), besides the
    namespace's ``default``.  A pod runs with its ServiceAccount's rights (and, with IRSA, its cloud
    role): allow only accounts meant for training pods."""
    credentials_secret_label: str = CREDENTIALS_LABEL
    """A credentials Secret (``storage.credentialsSecret``) must carry this label with value ``"true"``:
    only Secrets someone who may edit them opted in are exposed to stage pods.  Empty: any Secret of the
    namespace (whoever may create a pipeline can then read the AWS keys of every Secret there)."""
    allowed_tolerations: list[AllowedToleration] = Field(
        default_factory=lambda: [AllowedToleration(key="nvidia.com/gpu", effect="NoSchedule")]
    )
    """Tolerations stage pods may carry, by taint key and effect.  Default: GPU nodes' usual taint."""
    allowed_priority_classes: list[str] = Field(default_factory=list)
    """PriorityClass name patterns a resource may name (``kubernetes.priorityClassName``); default none: a
    high priority preempts other tenants' pods."""
    allowed_node_selector_keys: list[str] = Field(default_factory=lambda: ["*"])
    """Node-selector label key patterns a resource may use (``kubernetes.nodeSelector``); default any (a
    selector only narrows where pods go; taints keep special nodes apart)."""
    allowed_training_runtimes: list[str] = Field(default_factory=lambda: [f"{CLUSTER_TRAINING_RUNTIME}/*"])
    """Training runtimes a TrainJob stage may name (``kubernetes.trainingRuntime`` and
    ``trainingRuntimeKind``), as ``<kind>/<name>`` patterns.  A TrainJob's pods follow its runtime's pod
    template (images, init containers, the token mount), which these guardrails do not see; a namespaced
    ``TrainingRuntime`` is whoever may create one in that namespace.  Default: any ClusterTrainingRuntime
    (the platform team's); a stage that names no runtime runs on the operator's ``--training-runtime``,
    always allowed."""
    max_running_jobs_per_namespace: int = Field(default=20, ge=0)
    """Stage jobs that may run at once in one namespace; a stage over the limit waits in phase ``Queued``
    (oldest first) until a job ends.  0: no limit."""
    pods: PodPolicy = Field(default_factory=PodPolicy)
    """How every stage pod is hardened."""

    @field_validator("credentials_secret_label")
    @classmethod
    def _label_key(cls, value: str) -> str:
        if value and (why := qualified_name_problem(value)):
            raise ValueError(f"label key {value!r}: {why}")
        return value

    def summary(self) -> str:
        """One line for the operator's log: what is allowed."""

        def listed(items: Sequence[Any]) -> str:
            return ", ".join(str(i) for i in items) or "none"

        label = f"labelled {self.credentials_secret_label}=true" if self.credentials_secret_label else "any"
        limit = self.max_running_jobs_per_namespace or "unlimited"
        return (
            f"images {listed(self.allowed_images)}; service accounts "
            f"{listed([DEFAULT_SERVICE_ACCOUNT, *self.allowed_service_accounts])}; credentials Secrets {label}; tolerations "
            f"{listed(self.allowed_tolerations)}; priority classes {listed(self.allowed_priority_classes)}; "
            f"node-selector keys {listed(self.allowed_node_selector_keys)}; training runtimes "
            f"{listed(self.allowed_training_runtimes)}; running jobs per namespace {limit}"
        )

    # ----------------------------------------------------------------------------- checks (pure)
    def problems(
        self, execution: StageExecution, *, default_runtime: str = DEFAULT_TRAINING_RUNTIME
    ) -> list[tuple[str, str]]:
        """What ``execution`` asks that these guardrails do not allow: (field path under ``execution``,
        why), in field order; none when it is allowed (the credentials Secret's labels are judged apart:
        :meth:`secret_problem`).  ``default_runtime``: the operator's ``--training-runtime``, the name a
        TrainJob's runtime has when the stage names none."""
        k8s = execution.kubernetes
        out: list[tuple[str, str]] = []
        image = qualified_image(execution.image)
        if not matches(image, self.allowed_images):
            shown = execution.image if image == execution.image else f"{execution.image} ({image})"
            out.append(("image", refused(shown, self.allowed_images)))
        sa = k8s.service_account_name
        if sa and sa != DEFAULT_SERVICE_ACCOUNT and not matches(sa, self.allowed_service_accounts):
            out.append(("kubernetes.serviceAccountName", refused(sa, self.allowed_service_accounts)))
        pc = k8s.priority_class_name
        if pc and not matches(pc, self.allowed_priority_classes):
            out.append(("kubernetes.priorityClassName", refused(pc, self.allowed_priority_classes)))
        for key in k8s.node_selector:
            if not matches(key, self.allowed_node_selector_keys):
                out.append(
                    ("kubernetes.nodeSelector", refused(f"key {key}", self.allowed_node_selector_keys))
                )
        for i, t in enumerate(k8s.tolerations):
            if not any(rule.allows(t) for rule in self.allowed_tolerations):
                asked = f"key {t.key or '(any)'}, effect {t.effect or '(any)'}"
                out.append((f"kubernetes.tolerations[{i}]", refused(asked, self.allowed_tolerations)))
        if k8s.training_runtime or k8s.training_runtime_kind != CLUSTER_TRAINING_RUNTIME:
            runtime = f"{k8s.training_runtime_kind}/{k8s.training_runtime or default_runtime}"
            if not matches(runtime, self.allowed_training_runtimes):
                field = (
                    "kubernetes.trainingRuntime" if k8s.training_runtime else "kubernetes.trainingRuntimeKind"
                )
                out.append((field, refused(runtime, self.allowed_training_runtimes)))
        return out

    def secret_problem(self, name: str, labels: Mapping[str, str] | None) -> str | None:
        """Why Secret ``name`` may not serve as S3 credentials, given its labels (None: it does not
        exist); None when it may."""
        if labels is None:
            return f"Secret {name} not found in the namespace"
        key = self.credentials_secret_label
        if key and labels.get(key) != "true":
            return (
                f"Secret {name} is not labelled {key}=true (only Secrets labelled so may be read by stage "
                "pods; whoever may edit the Secret labels it)"
            )
        return None


def matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def refused(value: str, allowed: Sequence[Any]) -> str:
    """``<value> is not allowed (allowed: <rules>)``."""
    rules = ", ".join(str(a) for a in allowed) or "none"
    return f"{value} is not allowed (allowed: {rules})"


def qualified_image(ref: str) -> str:
    """An image reference as the container runtime resolves it: with its registry (``docker.io`` when the
    first part names none, ``library/`` for an official image) and a tag (``:latest`` when it has neither
    tag nor digest)."""
    name, at, digest = ref.partition("@")
    first, slash, _ = name.partition("/")
    if not slash:
        name = f"docker.io/library/{name}"
    elif not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if not at and ":" not in last:
        name += ":latest"
    return f"{name}{at}{digest}"


def describe(problems: Sequence[tuple[str, str]], prefix: str) -> str:
    """Problems as one line, each path under ``prefix`` (``spec.`` or ``spec.execution.``)."""
    return "; ".join(f"{prefix}{path}: {why}" for path, why in problems)


def json_schema(model: type[BaseModel] = Guardrails) -> dict[str, Any]:
    """The JSON schema of ``model`` with YAML field names, every ``$ref`` inlined and no titles: what the
    chart's ``values.schema.json`` declares for ``guardrails`` (so ``helm install`` refuses a typo)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = dict(defs[node["$ref"].rsplit("/", 1)[-1]])
                target.update({k: v for k, v in node.items() if k != "$ref"})
                return inline(target)
            return {
                k: clean_text(v) if k == "description" else inline(v) for k, v in node.items() if k != "title"
            }
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out: dict[str, Any] = inline(raw)
    return out


__all__ = [
    "CREDENTIALS_LABEL",
    "NOT_ALLOWED",
    "AllowedToleration",
    "Guardrails",
    "PodPolicy",
    "describe",
    "json_schema",
    "qualified_image",
]


if __name__ == "__main__":  # the chart's values.schema.json holds this under properties.guardrails
    import json

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
