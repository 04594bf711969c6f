"""A stage resource → its ConfigMap (the mounted ``stage.yaml``) and one PyTorchJob per attempt.

Plain dicts, deterministic names: the operator creates exactly what ``pro render`` prints.  The job runs
``torchrun -m pro stage <verb> --spec /etc/pro/stage.yaml`` in every replica (torchrun reads the ``PET_*``
environment the training operator injects); retries are new jobs (``backoffLimit: 0``), and pods are
kept (``cleanPodPolicy: None``) so a failure's status and log can be read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pro.planner.compose import ComposedStage
from pro.render.env import stage_env
from pro.spec.base import Resource
from pro.spec.conventions import (
    ATTEMPT_LABEL,
    GROUP_VERSION,
    KUEUE_QUEUE_LABEL,
    PIPELINE_LABEL,
    PYTORCHJOB_API_VERSION,
    SPEC_DIR,
    SPEC_KEY,
    STAGE_RESOURCE_LABEL,
    WORK_DIGEST,
    k8s_name,
)
from pro.spec.execution import StageExecution
from pro.spec.kinds import PIPELINE_KIND, stage_verb
from pro.spec.loader import dump_yaml

Obj = dict[str, Any]

CONTAINER = "pytorch"
#: room left in a 63-character pod name for ``-worker-NNN``
_MAX_JOB_NAME = 63 - len("-worker-") - 3
_UID = 1000
#: where a pod's writable scratch space lives (the root filesystem is read-only)
POD_ENV = {"HOME": "/tmp", "PRO_CACHE_DIR": "/tmp/pro-cache"}


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


def job_name(resource_name: str, attempt: int) -> str:
    """``<resource>-<attempt>``, short enough that ``<job>-worker-NNN`` pod names fit 63 characters and
    starting with a letter (the training operator's Service names must)."""
    base = resource_name if resource_name[:1].isalpha() else "j" + resource_name
    return k8s_name(base, _MAX_JOB_NAME, suffix=f"-{attempt}")


def config_map_name(resource_name: str) -> str:
    """``<resource>-spec``."""
    return f"{resource_name}-spec"


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


def _env(execution: StageExecution) -> list[Obj]:
    """The stage environment (:func:`pro.render.env.stage_env`, the same a local stage process gets), the
    pod's scratch locations, and the credentials Secret's keys as ``secretKeyRef``."""
    env: list[Obj] = [{"name": k, "value": v} for k, v in {**POD_ENV, **stage_env(execution.storage)}.items()]
    secret = execution.storage.credentials_secret
    if secret:
        for key, optional in (
            ("AWS_ACCESS_KEY_ID", False),
            ("AWS_SECRET_ACCESS_KEY", False),
            ("AWS_SESSION_TOKEN", True),
        ):
            ref: Obj = {"name": secret, "key": key}
            if optional:
                ref["optional"] = True
            env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    return env


def _resources(execution: StageExecution) -> Obj:
    r = execution.resources
    amounts: dict[str, str] = {}
    if r.cpu is not None:
        amounts["cpu"] = str(r.cpu)
    if r.memory is not None:
        amounts["memory"] = str(r.memory)
    limits = dict(amounts)
    if r.gpus > 0:
        limits["nvidia.com/gpu"] = str(r.gpus)
    out: Obj = {}
    if amounts:
        out["requests"] = amounts
    if limits:
        out["limits"] = limits
    return out


def _pod_template(resource: Resource, execution: StageExecution, labels: dict[str, str]) -> Obj:
    k8s = execution.kubernetes
    mounts: list[Obj] = [
        {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[Obj] = [
        {"name": "spec", "configMap": {"name": config_map_name(resource.metadata.name)}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if execution.resources.gpus > 0:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
    container: Obj = {
        "name": CONTAINER,
        "image": execution.image,
        "imagePullPolicy": k8s.image_pull_policy,
        "command": [
            "torchrun",
            "-m",
            "pro",
            "stage",
            stage_verb(getattr(resource, "kind")),  # noqa: B009
            "--spec",
            f"{SPEC_DIR}/{SPEC_KEY}",
        ],
        "env": _env(execution),
        "resources": _resources(execution),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod: Obj = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "runAsGroup": _UID,
            "fsGroup": _UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if k8s.service_account_name:
        pod["serviceAccountName"] = k8s.service_account_name
    if k8s.priority_class_name:
        pod["priorityClassName"] = k8s.priority_class_name
    if k8s.node_selector:
        pod["nodeSelector"] = dict(k8s.node_selector)
    if k8s.tolerations:
        pod["tolerations"] = [t.to_dict() for t in k8s.tolerations]
    if k8s.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in k8s.image_pull_secrets]
    return {"metadata": {"labels": dict(labels)}, "spec": pod}


def render_stage(resource: Resource, *, attempt: int, owner: Obj | None = None) -> StageObjects:
    """The ConfigMap and the attempt's PyTorchJob of a stage resource (``owner``: usually the stage
    resource's own :func:`owner_reference`)."""
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    execution = getattr(resource, "spec").execution or StageExecution()  # noqa: B009
    name = resource.metadata.name
    config_map: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(config_map_name(name), resource, _labels(resource, {}), owner),
        "data": {SPEC_KEY: dump_yaml(resource)},
    }
    k8s = execution.kubernetes
    labels = _labels(resource, {ATTEMPT_LABEL: str(attempt)})
    if k8s.queue:
        labels[KUEUE_QUEUE_LABEL] = k8s.queue
    template = _pod_template(resource, execution, labels)
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
    scheduling = {
        key: value
        for key, value in (("queue", k8s.queue), ("priorityClass", k8s.priority_class_name))
        if value
    }
    if scheduling:
        run_policy["schedulingPolicy"] = scheduling
    job: Obj = {
        "apiVersion": PYTORCHJOB_API_VERSION,
        "kind": "PyTorchJob",
        "metadata": _metadata(job_name(name, attempt), resource, labels, owner),
        "spec": {
            "nprocPerNode": str(execution.resources.processes_per_node),
            "runPolicy": run_policy,
            "pytorchReplicaSpecs": replicas,
        },
    }
    return StageObjects(config_map, job)


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
    "StageObjects",
    "config_map_name",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_resource_object",
]
