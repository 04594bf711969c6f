"""A stage attempt as a Kubeflow Trainer v2.3 ``TrainJob`` (``trainer.kubeflow.org/v1alpha1``).

The TrainJob names a torchrun runtime (``runtimeRef``, default ``torch-distributed``) and overrides what
a TrainJob may: the trainer's image, command, environment, nodes, processes per node and resources per
node, ``suspend`` and ``activeDeadlineSeconds``.  Everything else a stage pod needs goes into one
``runtimePatches`` entry of ours (keyed by :data:`~pro.spec.conventions.TRAINJOB_PATCH_MANAGER`) on the
runtime's trainer job ``node``: the service account, node selector, tolerations, image pull secrets, the
pod's security context and labels, the spec ConfigMap and ``/tmp`` volumes, and the ``node`` container's
mounts and security context.  Trainer's torch plugin injects ``PET_NNODES``, ``PET_NPROC_PER_NODE``,
``PET_NODE_RANK``, ``PET_MASTER_ADDR`` and ``PET_MASTER_PORT`` (and rejects them in ``trainer.env``);
torchrun reads them.

What a TrainJob cannot say is the runtime's: the pods' PriorityClass, whether they mount their
ServiceAccount token (``manifests/trainer``'s ``pro-torch`` does not), the image pull policy, the
termination message policy and the JobSet's TTL (:func:`ignored`).  What the runtime must offer is checked
where the runtime can be read (:func:`runtime_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pro.render.pod import (
    CONTAINER_SECURITY,
    pod_env,
    pod_resources,
    pod_security,
    pod_volumes,
    scheduling,
    stage_command,
)
from pro.spec.conventions import (
    CLUSTER_TRAINING_RUNTIME,
    DEFAULT_TRAINING_RUNTIME,
    TORCH_RESERVED_ENV,
    TRAINER_ANCESTOR_LABEL,
    TRAINER_GROUP,
    TRAINER_NODE,
    TRAINJOB_API_VERSION,
    TRAINJOB_KIND,
    TRAINJOB_PATCH_MANAGER,
)
from pro.spec.execution import KubernetesSettings, StageExecution
from pro.spec.guardrails import PodPolicy

Obj = dict[str, Any]


@dataclass(frozen=True)
class RuntimeRef:
    """The training runtime a TrainJob names."""

    name: str = DEFAULT_TRAINING_RUNTIME
    kind: str = CLUSTER_TRAINING_RUNTIME
    """``ClusterTrainingRuntime`` or ``TrainingRuntime`` (in the job's namespace)."""

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}"


def runtime_ref(k8s: KubernetesSettings, default: str = DEFAULT_TRAINING_RUNTIME) -> RuntimeRef:
    """The runtime a stage's TrainJobs name: its own ``trainingRuntime``, else ``default``."""
    return RuntimeRef(k8s.training_runtime or default, k8s.training_runtime_kind)


def render_trainjob(
    kind: str, config_map: str, execution: StageExecution, meta: Obj, pod_labels: dict[str, str], *,
    runtime: RuntimeRef, pods: PodPolicy,
) -> Obj:  # fmt: skip
    """The TrainJob of one attempt of a stage resource of ``kind`` (``meta``: its metadata, ``pod_labels``:
    the labels its pods get, ``config_map``: the stage spec's ConfigMap, ``pods``: the platform's pod
    hardening)."""
    env = pod_env(execution)
    reserved = sorted({e["name"] for e in env} & set(TORCH_RESERVED_ENV))
    if reserved:  # Trainer rejects the job; our environment never sets them
        raise ValueError(f"trainer.env must not set {', '.join(reserved)} (Trainer's torch plugin sets them)")
    volumes, mounts = pod_volumes(config_map, execution, pods)
    pod_spec: Obj = {
        **scheduling(execution),
        "securityContext": pod_security(),
        "volumes": volumes,
        "containers": [
            {"name": TRAINER_NODE, "volumeMounts": mounts, "securityContext": dict(CONTAINER_SECURITY)}
        ],
    }
    patch: Obj = {
        "manager": TRAINJOB_PATCH_MANAGER,
        "trainingRuntimeSpec": {
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {
                            "name": TRAINER_NODE,
                            "template": {
                                "spec": {
                                    "template": {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec}
                                }
                            },
                        }
                    ]
                }
            }
        },
    }
    resources = execution.resources
    trainer: Obj = {
        "image": execution.image,
        "command": stage_command(kind),
        "env": env,
        "numNodes": resources.replicas,
        "numProcPerNode": resources.processes_per_node,
    }
    per_node = pod_resources(execution)
    if per_node:
        trainer["resourcesPerNode"] = per_node
    spec: Obj = {
        "runtimeRef": {"name": runtime.name, "kind": runtime.kind, "apiGroup": TRAINER_GROUP},
        "trainer": trainer,
        "runtimePatches": [patch],
        "suspend": execution.suspend,
    }
    if resources.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = resources.active_deadline_seconds
    return {"apiVersion": TRAINJOB_API_VERSION, "kind": TRAINJOB_KIND, "metadata": meta, "spec": spec}


def ignored(execution: StageExecution) -> list[str]:
    """The stage's settings a TrainJob cannot carry (they are its runtime's), by field path under
    ``execution``."""
    k8s = execution.kubernetes
    out = []
    if k8s.priority_class_name:
        out.append("kubernetes.priorityClassName")
    if k8s.image_pull_policy != KubernetesSettings().image_pull_policy:
        out.append("kubernetes.imagePullPolicy")
    return out


def settings_problems(execution: StageExecution) -> list[tuple[str, str]]:
    """What a TrainJob on a torch runtime cannot express, as (field path under ``execution``, why)."""
    r = execution.resources
    if 0 < r.gpus < r.processes_per_node:
        return [
            (
                "resources.processesPerNode",
                f"{r.processes_per_node} processes per node on {r.gpus} GPU(s): a TrainJob's torch runtime "
                "runs one process per GPU at most (set processesPerNode to at most gpus)",
            )
        ]
    return []


def runtime_problems(runtime: Obj) -> list[str]:
    """Why a training runtime (a ClusterTrainingRuntime or TrainingRuntime body) cannot run a stage:
    stages run torchrun, so it needs Trainer's torch policy, and our patches name its trainer job and
    container ``node``."""
    spec = runtime.get("spec") or {}
    name = (runtime.get("metadata") or {}).get("name", "?")
    policy = spec.get("mlPolicy") or {}
    out = []
    if "torch" not in policy:
        others = sorted(k for k in policy if k != "numNodes") or ["none"]
        out.append(
            f"runtime {name!r} has no torch policy (mlPolicy: {', '.join(others)}); stages run torchrun"
        )
    jobs = ((spec.get("template") or {}).get("spec") or {}).get("replicatedJobs") or []
    trainer = [
        j
        for j in jobs
        if ((j.get("template") or {}).get("metadata") or {}).get("labels", {}).get(TRAINER_ANCESTOR_LABEL)
        == "trainer"
    ]
    names = [j.get("name") for j in trainer] or [j.get("name") for j in jobs]
    if TRAINER_NODE not in names:
        out.append(
            f"runtime {name!r} has no trainer job named {TRAINER_NODE!r} (jobs: {', '.join(map(str, names))})"
        )
    else:
        job = next(j for j in jobs if j.get("name") == TRAINER_NODE)
        pod = (((job.get("template") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [c.get("name") for c in pod.get("containers") or []]
        if TRAINER_NODE not in containers:
            out.append(
                f"the trainer job of runtime {name!r} has no container named {TRAINER_NODE!r} "
                f"(containers: {', '.join(map(str, containers))})"
            )
    return out


__all__ = ["RuntimeRef", "ignored", "render_trainjob", "runtime_problems", "runtime_ref", "settings_problems"]
