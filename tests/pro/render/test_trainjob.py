"""Stage resource → TrainJob (Kubeflow Trainer v2.3): the runtime it names, the trainer it overrides, the
one runtime patch of ours, what it cannot carry, and which runtimes can run a stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner.compose import Composition, compose
from pro.render.jobs import job_kind, render_stage
from pro.render.trainjob import ignored, runtime_problems
from pro.spec import load_file
from pro.spec.conventions import ATTEMPT_LABEL, KUEUE_QUEUE_LABEL, STAGE_RESOURCE_LABEL, TORCH_RESERVED_ENV
from pro.spec.execution import StageExecution
from pro.spec.pipeline import AlignmentPipeline
from tests.pro.render.test_jobs import StageKind, stage_of, with_execution

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def toy() -> Composition:
    return compose(load_file(ROOT / "examples/toy/pipeline.yaml", AlignmentPipeline))


def trainjob(resource: StageKind, attempt: int = 1) -> Obj:
    job: Obj = render_stage(resource, attempt=attempt, backend="TrainJob").job
    return job


def patched(job: Obj) -> Obj:
    """Our runtime patch's trainer job ``node``."""
    (patch,) = job["spec"]["runtimePatches"]
    assert patch["manager"] == "pro.alignment.dev/operator" and set(patch) == {
        "manager",
        "trainingRuntimeSpec",
    }
    (node,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == "node"
    template: Obj = node["template"]["spec"]["template"]
    return template


def test_defaults_for_a_single_node_cpu_stage(toy: Composition) -> None:
    job = trainjob(stage_of(toy, "align"))
    assert job["apiVersion"] == "trainer.kubeflow.org/v1alpha1" and job["kind"] == "TrainJob"
    assert job["metadata"]["name"] == "pal-toy-align-1"
    labels = job["metadata"]["labels"]
    assert labels[STAGE_RESOURCE_LABEL] == "toy-align" and labels[ATTEMPT_LABEL] == "1"
    spec = job["spec"]
    assert set(spec) == {"runtimeRef", "trainer", "runtimePatches", "suspend"}
    assert spec["runtimeRef"] == {
        "name": "torch-distributed",
        "kind": "ClusterTrainingRuntime",
        "apiGroup": "trainer.kubeflow.org",
    }
    assert spec["suspend"] is False
    trainer = spec["trainer"]
    assert trainer["image"] == "ghcr.io/pro-pipeline/trainer:latest"
    assert trainer["command"] == ["torchrun", "-m", "pro", "stage", "align", "--spec", "/etc/pro/stage.yaml"]
    assert trainer["env"] == [
        {"name": "HOME", "value": "/tmp"},
        {"name": "PRO_CACHE_DIR", "value": "/tmp/pro-cache"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    assert trainer["numNodes"] == 1 and trainer["numProcPerNode"] == 1 and "resourcesPerNode" not in trainer
    pod = patched(job)
    assert pod["metadata"]["labels"] == labels  # the job's labels on its pods
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["volumes"] == [
        {"name": "spec", "configMap": {"name": "pal-toy-align-spec"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}},
    ]
    (node,) = pod["spec"]["containers"]
    assert set(node) == {"name", "volumeMounts", "securityContext"}  # the rest is the runtime's or trainer's
    assert node["volumeMounts"] == [
        {"name": "spec", "mountPath": "/etc/pro", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    assert node["securityContext"]["readOnlyRootFilesystem"] is True
    for key in ("serviceAccountName", "nodeSelector", "tolerations", "imagePullSecrets", "priorityClassName"):
        assert key not in pod["spec"]


def test_a_multi_node_gpu_stage_with_scheduling_runtime_and_store_access(toy: Composition) -> None:
    resource = with_execution(
        stage_of(toy, "align"),
        image="registry.example/trainer:1.2",
        resources={"replicas": 3, "processesPerNode": 8, "gpus": 8, "cpu": "32", "memory": "512Gi",
                   "activeDeadlineSeconds": 7200},
        kubernetes={
            "jobBackend": "TrainJob", "trainingRuntime": "team-torch", "trainingRuntimeKind": "TrainingRuntime",
            "serviceAccountName": "pro-trainer", "queue": "team-a", "priorityClassName": "high",
            "imagePullPolicy": "Always", "imagePullSecrets": ["regcred"], "nodeSelector": {"gpu": "h100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        storage={"endpointUrl": "http://minio:9000", "credentialsSecret": "s3-creds"},
        suspend=True,
    )  # fmt: skip
    job = render_stage(resource, attempt=3).job  # the stage's own jobBackend
    assert job["kind"] == "TrainJob" and job["metadata"]["name"] == "pal-toy-align-3"
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team-a"  # Kueue reads it on the TrainJob
    spec = job["spec"]
    assert spec["runtimeRef"]["name"] == "team-torch" and spec["runtimeRef"]["kind"] == "TrainingRuntime"
    assert spec["suspend"] is True and spec["activeDeadlineSeconds"] == 7200
    trainer = spec["trainer"]
    assert trainer["image"] == "registry.example/trainer:1.2"
    assert trainer["numNodes"] == 3 and trainer["numProcPerNode"] == 8
    assert trainer["resourcesPerNode"] == {
        "requests": {"cpu": "32", "memory": "512Gi"},
        "limits": {"cpu": "32", "memory": "512Gi", "nvidia.com/gpu": "8"},
    }
    env = {e["name"]: e for e in trainer["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "s3-creds",
        "key": "AWS_ACCESS_KEY_ID",
    }
    assert not set(env) & set(TORCH_RESERVED_ENV)  # Trainer's torch plugin sets and guards them
    pod = patched(job)
    assert KUEUE_QUEUE_LABEL not in pod["metadata"]["labels"]
    assert pod["spec"]["serviceAccountName"] == "pro-trainer" and pod["spec"]["nodeSelector"] == {
        "gpu": "h100"
    }
    assert pod["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "512Gi"}} in pod["spec"]["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in pod["spec"]["containers"][0]["volumeMounts"]
    assert "priorityClass" not in yaml.safe_dump(job)  # a TrainJob cannot carry it: the runtime's
    execution = resource.spec.execution
    assert execution is not None
    assert ignored(execution) == ["kubernetes.priorityClassName", "kubernetes.imagePullPolicy"]
    assert ignored(StageExecution()) == []


def test_the_backend_is_the_stages_unless_told_and_auto_renders_a_pytorchjob(toy: Composition) -> None:
    resource = stage_of(toy, "rm-humor")
    assert render_stage(resource, attempt=1).job["kind"] == "PyTorchJob"  # auto
    assert trainjob(resource)["kind"] == "TrainJob"
    assert job_kind(StageExecution.model_validate({"kubernetes": {"jobBackend": "TrainJob"}})) == "TrainJob"
    assert job_kind(StageExecution(), "TrainJob") == "TrainJob"
    with pytest.raises(ValueError, match="unknown job backend 'MPIJob'"):
        job_kind(StageExecution(), "MPIJob")
    job = render_stage(resource, attempt=1, backend="TrainJob", default_runtime="pro-torch").job
    assert job["spec"]["runtimeRef"]["name"] == "pro-torch"


def test_a_runtime_must_run_torchrun_in_a_trainer_job_and_container_named_node() -> None:
    pro_torch = yaml.safe_load((ROOT / "manifests/trainer/clustertrainingruntime-pro-torch.yaml").read_text())
    assert runtime_problems(pro_torch) == []
    mpi = {
        "metadata": {"name": "mpi"},
        "spec": {"mlPolicy": {"numNodes": 1, "mpi": {}}, "template": {"spec": {"replicatedJobs": [
            {"name": "launcher", "template": {"metadata": {"labels": {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}}}},
        ]}}},
    }  # fmt: skip
    assert runtime_problems(mpi) == [
        "runtime 'mpi' has no torch policy (mlPolicy: mpi); stages run torchrun",
        "runtime 'mpi' has no trainer job named 'node' (jobs: launcher)",
    ]
    renamed = yaml.safe_load(yaml.safe_dump(pro_torch))
    pod = renamed["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    pod["containers"][0]["name"] = "trainer"
    assert runtime_problems(renamed) == [
        "the trainer job of runtime 'pro-torch' has no container named 'node' (containers: trainer)"
    ]
