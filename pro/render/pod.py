"""What every stage pod gets, whichever Kubeflow job runs it: the command, environment, resources,
volumes and security settings.

The job renderers (:mod:`pro.render.jobs` for PyTorchJobs, :mod:`pro.render.trainjob` for TrainJobs) put
these pieces where their kind of job takes them, so the two backends run the same pod.
"""

from __future__ import annotations

from typing import Any

from pro.render.env import stage_env
from pro.spec.conventions import SPEC_DIR, SPEC_KEY
from pro.spec.execution import StageExecution
from pro.spec.guardrails import PodPolicy
from pro.spec.kinds import stage_verb

Obj = dict[str, Any]

UID = 1000
#: where a pod's writable scratch space lives (the root filesystem is read-only)
POD_ENV = {"HOME": "/tmp", "PRO_CACHE_DIR": "/tmp/pro-cache"}
#: what the stage container may do: nothing beyond running as an unprivileged user
CONTAINER_SECURITY: Obj = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def stage_command(kind: str) -> list[str]:
    """``torchrun -m pro stage <verb> --spec /etc/pro/stage.yaml``: torchrun reads the ``PET_*``
    environment either Kubeflow injects."""
    return ["torchrun", "-m", "pro", "stage", stage_verb(kind), "--spec", f"{SPEC_DIR}/{SPEC_KEY}"]


def pod_env(execution: StageExecution) -> list[Obj]:
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


def pod_resources(execution: StageExecution) -> Obj:
    """CPU and memory requested and limited alike; GPUs (``nvidia.com/gpu``) as a limit."""
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


def pod_volumes(config_map: str, execution: StageExecution, policy: PodPolicy) -> tuple[list[Obj], list[Obj]]:
    """The volumes and the stage container's mounts: the stage spec (ConfigMap ``config_map``) read-only,
    a writable ``/tmp`` of at most ``policy.tmpSizeLimit``, and for GPU stages a memory-backed
    ``/dev/shm`` (NCCL's shared memory) of at most the stage's memory (else ``policy.shmSizeLimit``): a pod
    that writes more is evicted instead of filling its node's disk or memory."""
    mounts: list[Obj] = [
        {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[Obj] = [
        {"name": "spec", "configMap": {"name": config_map}},
        {"name": "tmp", "emptyDir": {"sizeLimit": policy.tmp_size_limit}},
    ]
    if execution.resources.gpus > 0:
        memory = execution.resources.memory
        shm = str(memory) if memory is not None else policy.shm_size_limit
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}})
    return volumes, mounts


def pod_security() -> Obj:
    """The pod's security context: a fixed unprivileged user, the runtime's default seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scheduling(execution: StageExecution) -> Obj:
    """The pod spec's scheduling and identity fields the stage sets (service account, node selector,
    tolerations, image pull secrets); the PriorityClass is the job renderer's (not every job can set it)."""
    k8s = execution.kubernetes
    out: Obj = {}
    if k8s.service_account_name:
        out["serviceAccountName"] = k8s.service_account_name
    if k8s.node_selector:
        out["nodeSelector"] = dict(k8s.node_selector)
    if k8s.tolerations:
        out["tolerations"] = [t.to_dict() for t in k8s.tolerations]
    if k8s.image_pull_secrets:
        out["imagePullSecrets"] = [{"name": s} for s in k8s.image_pull_secrets]
    return out
