"""A stage resource → its ConfigMap (the mounted ``stage.yaml``) and one Kubeflow job per attempt: a
``PyTorchJob`` (Training Operator v1) or a ``TrainJob`` (Trainer v2.3, :mod:`pro.render.trainjob`).

Plain dicts, deterministic names: the operator creates exactly what ``pro render`` prints.  The job runs
``torchrun -m pro stage <verb> --spec /etc/pro/stage.yaml`` on every node (torchrun reads the ``PET_*``
environment Kubeflow injects); retries are new jobs (a PyTorchJob's ``backoffLimit: 0``; a TrainJob's
runtime restarts nothing), and pods are kept (``cleanPodPolicy: None``) so a failure's status and log can be
read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pro.planner.compose import ComposedStage
from pro.render.pod import (
    CONTAINER_SECURITY,
    pod_env,
    pod_resources,
    pod_security,
    pod_volumes,
    scheduling,
    stage_command,
)
from pro.render.trainjob import RuntimeRef, render_trainjob, runtime_ref
from pro.spec.base import Resource
from pro.spec.conventions import (
    ATTEMPT_LABEL,
    AUTO_BACKEND,
    DEFAULT_TRAINING_RUNTIME,
    GROUP_VERSION,
    KUEUE_QUEUE_LABEL,
    MAX_SUBDOMAIN,
    PIPELINE_LABEL,
    PYTORCHJOB_API_VERSION,
    PYTORCHJOB_KIND,
    SPEC_KEY,
    STAGE_RESOURCE_LABEL,
    TRAINJOB_KIND,
    WORK_DIGEST,
    k8s_name,
)
from pro.spec.execution import StageExecution
from pro.spec.guardrails import PodPolicy
from pro.spec.kinds import PIPELINE_KIND, kind_named
from pro.spec.loader import dump_yaml

Obj = dict[str, Any]

CONTAINER = "pytorch"
#: room left in a 63-character pod name for ``-worker-NNN`` (a TrainJob's pod hostnames,
#: ``<job>-node-0-NNN``, need no more)
_MAX_JOB_NAME = 63 - len("-worker-") - 3
#: the job kinds a stage can run as
JOB_KINDS = (PYTORCHJOB_KIND, TRAINJOB_KIND)
#: the pod hardening of the chart's defaults (the operator passes its guardrails' own)
DEFAULT_POD_POLICY = PodPolicy()


@dataclass(frozen=True)
class StageObjects:
    """What one attempt of a stage needs on the cluster."""

    config_map: Obj
    job: Obj


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> Obj:
    """An ownerReference that makes the owner the controller (garbage-collected with it)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_base(kind: str, resource_name: str) -> str:
    """``<short>-<resource>``: what every object a stage resource owns is named after.  The kind's short
    name (``rmt``, ``adt``, ``pal``, ``pev``) keeps stage resources of different kinds that share a name
    apart — RewardModelTraining ``p-rm-adapter`` (pipeline ``p``, objective ``adapter``) and
    AdapterTraining ``p-rm-adapter`` (pipeline ``p-rm``) — and starts every name with a letter."""
    return f"{kind_named(kind).short}-{resource_name}"


def job_name(kind: str, resource_name: str, attempt: int) -> str:
    """``<short>-<resource>-<attempt>``, short enough that ``<job>-worker-NNN`` pod names fit 63 characters
    (a too long name is cut and keeps a hash of the whole)."""
    return k8s_name(child_base(kind, resource_name), _MAX_JOB_NAME, suffix=f"-{attempt}")


def config_map_name(kind: str, resource_name: str) -> str:
    """``<short>-<resource>-spec`` (within a ConfigMap's 253 characters)."""
    return k8s_name(child_base(kind, resource_name), MAX_SUBDOMAIN, suffix="-spec")


def _labels(resource: Resource, extra: dict[str, str]) -> dict[str, str]:
    return {**resource.metadata.labels, STAGE_RESOURCE_LABEL: resource.metadata.name, **extra}


def _metadata(name: str, resource: Resource, labels: dict[str, str], owner: Obj | None) -> Obj:
    meta: Obj = {"name": name}
    if resource.metadata.namespace:
        meta["namespace"] = resource.metadata.namespace
    meta["labels"] = dict(labels)
    digest = resource.metadata.annotations.get(WORK_DIGEST)
    if digest:
        meta["annotations"] = {WORK_DIGEST: digest}
    if owner is not None:
        meta["ownerReferences"] = [dict(owner)]
    return meta


def _pod_template(
    kind: str, config_map: str, execution: StageExecution, labels: dict[str, str], policy: PodPolicy
) -> Obj:
    """A PyTorchJob replica's pod template."""
    k8s = execution.kubernetes
    volumes, mounts = pod_volumes(config_map, execution, policy)
    container: Obj = {
        "name": CONTAINER,
        "image": execution.image,
        "imagePullPolicy": k8s.image_pull_policy,
        "command": stage_command(kind),
        "env": pod_env(execution),
        "resources": pod_resources(execution),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": dict(CONTAINER_SECURITY),
    }
    pod: Obj = {
        "securityContext": pod_security(),
        "automountServiceAccountToken": policy.automount_service_account_token,
        "containers": [container],
        "volumes": volumes,
    }
    pod.update(scheduling(execution))
    if k8s.priority_class_name:
        pod["priorityClassName"] = k8s.priority_class_name
    return {"metadata": {"labels": dict(labels)}, "spec": pod}


def job_kind(execution: StageExecution, backend: str | None = None) -> str:
    """The kind of job an attempt runs as: ``backend`` when given, else the stage's ``jobBackend``;
    ``auto`` (left to the operator) renders as a PyTorchJob, what the operator picks where both are
    served."""
    choice = backend or execution.kubernetes.job_backend
    if choice == AUTO_BACKEND:
        return PYTORCHJOB_KIND
    if choice not in JOB_KINDS:
        raise ValueError(f"unknown job backend {choice!r} (one of {', '.join(JOB_KINDS)})")
    return choice


def render_stage(
    resource: Resource, *, attempt: int, owner: Obj | None = None, backend: str | None = None,
    default_runtime: str = DEFAULT_TRAINING_RUNTIME, pods: PodPolicy = DEFAULT_POD_POLICY,
) -> StageObjects:  # fmt: skip
    """The ConfigMap and the attempt's job of a stage resource (``owner``: usually the stage resource's
    own :func:`owner_reference`; ``backend``: the job kind, default the stage's ``jobBackend`` as
    :func:`job_kind` reads it; ``default_runtime``: a TrainJob's runtime unless the stage names one;
    ``pods``: the platform's pod hardening, the guardrails' ``pods``)."""
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    execution = getattr(resource, "spec").execution or StageExecution()  # noqa: B009
    kind: str = getattr(resource, "kind")  # noqa: B009
    name = resource.metadata.name
    spec_map = config_map_name(kind, name)
    config_map: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec_map, resource, _labels(resource, {}), owner),
        "data": {SPEC_KEY: dump_yaml(resource)},
    }
    k8s = execution.kubernetes
    pod_labels = _labels(resource, {ATTEMPT_LABEL: str(attempt)})
    # Kueue reads its label on the job (which it suspends and resumes)
    labels = {**pod_labels, KUEUE_QUEUE_LABEL: k8s.queue} if k8s.queue else pod_labels
    meta = _metadata(job_name(kind, name, attempt), resource, labels, owner)
    if job_kind(execution, backend) == TRAINJOB_KIND:
        runtime: RuntimeRef = runtime_ref(k8s, default_runtime)
        job = render_trainjob(kind, spec_map, execution, meta, pod_labels, runtime=runtime, pods=pods)
    else:  # the PyTorchJob's pods carry the job's labels, the queue's too
        job = _pytorchjob(kind, spec_map, execution, meta, labels, policy=pods)
    return StageObjects(config_map, job)


def _pytorchjob(
    kind: str, config_map: str, execution: StageExecution, meta: Obj, labels: dict[str, str], *,
    policy: PodPolicy,
) -> Obj:  # fmt: skip
    """A Training Operator v1 PyTorchJob: one Master and ``replicas - 1`` Workers, never restarted."""
    k8s = execution.kubernetes
    template = _pod_template(kind, config_map, execution, labels, policy)
    replicas: Obj = {"Master": {"replicas": 1, "restartPolicy": "Never", "template": template}}
    workers = execution.resources.replicas - 1
    if workers > 0:
        worker_template = copy.deepcopy(template)  # no shared nodes: YAML would print anchors
        replicas["Worker"] = {"replicas": workers, "restartPolicy": "Never", "template": worker_template}
    run_policy: Obj = {"cleanPodPolicy": "None", "backoffLimit": 0, "suspend": execution.suspend}
    if k8s.ttl_seconds_after_finished is not None:
        run_policy["ttlSecondsAfterFinished"] = k8s.ttl_seconds_after_finished
    if execution.resources.active_deadline_seconds is not None:
        run_policy["activeDeadlineSeconds"] = execution.resources.active_deadline_seconds
    scheduling_policy = {
        key: value
        for key, value in (("queue", k8s.queue), ("priorityClass", k8s.priority_class_name))
        if value
    }
    if scheduling_policy:
        run_policy["schedulingPolicy"] = scheduling_policy
    return {
        "apiVersion": PYTORCHJOB_API_VERSION,
        "kind": PYTORCHJOB_KIND,
        "metadata": meta,
        "spec": {
            "nprocPerNode": str(execution.resources.processes_per_node),
            "runPolicy": run_policy,
            "pytorchReplicaSpecs": replicas,
        },
    }


def stage_resource_object(stage: ComposedStage, pipeline_uid: str | None) -> Obj:
    """The stage resource body the pipeline controller creates: owned by its AlignmentPipeline when
    ``pipeline_uid`` is given, no status."""
    body: Obj = stage.resource.to_dict()
    meta = body["metadata"]
    pipeline = stage.resource.metadata.labels.get(PIPELINE_LABEL)
    if pipeline_uid is not None and pipeline:
        meta["ownerReferences"] = [owner_reference(GROUP_VERSION, PIPELINE_KIND, pipeline, pipeline_uid)]
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": meta, "spec": body["spec"]}


__all__ = [
    "JOB_KINDS",
    "StageObjects",
    "child_base",
    "config_map_name",
    "job_kind",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_resource_object",
]
