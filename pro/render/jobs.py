"""A stage resource → its ConfigMap (the mounted ``stage.yaml``) and one PyTorchJob per attempt.

Plain dicts, deterministic names: the operator creates exactly what ``pro render`` prints.  The job runs
``torchrun -m pro stage <verb> --spec /etc/pro/stage.yaml`` in every replica (torchrun reads the ``PET_*``
environment the training operator injects); retries are new jobs (``backoffLimit: 0``), and pods are
kept (``cleanPodPolicy: None``) so a failure's status and log can be read.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from pro.planner.compose import PIPELINE_LABEL, WORK_DIGEST, ComposedStage
from pro.spec.align import PolicyAlignment
from pro.spec.base import GROUP_VERSION, Resource
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.execution import StageExecution
from pro.spec.loader import dump_yaml
from pro.spec.stages import AdapterTraining, RewardModelTraining

StageKind = RewardModelTraining | AdapterTraining | PolicyAlignment | PolicyEvaluation
Obj = dict[str, Any]

PYTORCHJOB_API_VERSION = "kubeflow.org/v1"
#: label on a stage's ConfigMap and jobs: the stage resource's name
STAGE_RESOURCE_LABEL = "pro.alignment.dev/stage-resource"
#: label on a stage's jobs: the attempt number (1, 2, …)
ATTEMPT_LABEL = "pro.alignment.dev/attempt"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
SPEC_DIR = "/etc/pro"
SPEC_KEY = "stage.yaml"
CONTAINER = "pytorch"
#: ``pro stage <verb>`` per kind
VERBS = {
    "RewardModelTraining": "reward",
    "AdapterTraining": "adapter",
    "PolicyAlignment": "align",
    "PolicyEvaluation": "eval",
}
#: room left in a 63-character pod name for ``-worker-NNN``
_MAX_JOB_NAME = 63 - len("-worker-") - 3
_UID = 1000


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


def _shorten(name: str, limit: int, keep: str = "") -> str:
    """``name + keep`` within ``limit`` characters: ``name`` cut and a hash of it added when too long."""
    if len(name) + len(keep) <= limit:
        return name + keep
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(keep) - len(digest) - 1].rstrip('-')}-{digest}{keep}"


def job_name(resource_name: str, attempt: int) -> str:
    """``<resource>-<attempt>``, short enough that ``<job>-worker-NNN`` pod names fit 63 characters and
    starting with a letter (the training operator's Service names must)."""
    base = resource_name if resource_name[:1].isalpha() else "j" + resource_name
    return _shorten(base, _MAX_JOB_NAME, f"-{attempt}")


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
    env: list[Obj] = [
        {"name": "PRO_CACHE_DIR", "value": "/tmp/pro-cache"},
        {"name": "HOME", "value": "/tmp"},
    ]
    storage = execution.storage
    if storage.endpoint_url:
        env.append({"name": "AWS_ENDPOINT_URL_S3", "value": storage.endpoint_url})
    if storage.region:
        env += [
            {"name": "AWS_REGION", "value": storage.region},
            {"name": "AWS_DEFAULT_REGION", "value": storage.region},
        ]
    if storage.credentials_secret:
        for key, optional in (
            ("AWS_ACCESS_KEY_ID", False),
            ("AWS_SECRET_ACCESS_KEY", False),
            ("AWS_SESSION_TOKEN", True),
        ):
            ref: Obj = {"name": storage.credentials_secret, "key": key}
            if optional:
                ref["optional"] = True
            env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    return env


def _resources(execution: StageExecution) -> Obj:
    r = execution.resources
    amounts: dict[str, str] = {}
    if r.cpu:
        amounts["cpu"] = r.cpu
    if r.memory:
        amounts["memory"] = r.memory
    limits = dict(amounts)
    if r.gpus > 0:
        limits["nvidia.com/gpu"] = str(r.gpus)
    out: Obj = {}
    if amounts:
        out["requests"] = amounts
    if limits:
        out["limits"] = limits
    return out


def _pod_template(resource: StageKind, execution: StageExecution, labels: dict[str, str]) -> Obj:
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
            VERBS[resource.kind],
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
        pod["tolerations"] = [dict(t) for t in k8s.tolerations]
    if k8s.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in k8s.image_pull_secrets]
    return {"metadata": {"labels": dict(labels)}, "spec": pod}


def render_stage(resource: StageKind, *, attempt: int, owner: Obj | None = None) -> StageObjects:
    """The ConfigMap and the attempt's PyTorchJob of a stage resource (``owner``: usually the stage
    resource's own :func:`owner_reference`)."""
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    execution = resource.spec.execution or StageExecution()
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
        labels[QUEUE_LABEL] = k8s.queue
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
        meta["ownerReferences"] = [
            owner_reference(GROUP_VERSION, "AlignmentPipeline", pipeline, pipeline_uid)
        ]
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": meta, "spec": body["spec"]}


__all__ = [
    "ATTEMPT_LABEL",
    "PYTORCHJOB_API_VERSION",
    "QUEUE_LABEL",
    "STAGE_RESOURCE_LABEL",
    "VERBS",
    "StageKind",
    "StageObjects",
    "config_map_name",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_resource_object",
]
