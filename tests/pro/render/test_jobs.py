"""Stage resource → ConfigMap and PyTorchJob: names, command, environment, volumes, security, owners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pro.planner.compose import Composition, compose
from pro.render.jobs import (
    config_map_name,
    job_name,
    owner_reference,
    render_stage,
    stage_resource_object,
)
from pro.spec import load_file, load_text, parse
from pro.spec.align import PolicyAlignment
from pro.spec.conventions import (
    ATTEMPT_LABEL,
    KUEUE_QUEUE_LABEL,
    STAGE_RESOURCE_LABEL,
    WORK_DIGEST,
)
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.execution import StageExecution
from pro.spec.guardrails import PodPolicy
from pro.spec.kinds import load_resource
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.stages import AdapterTraining, RewardModelTraining

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
#: pods kept for their logs, no restarts inside a job (the operator makes a new job per attempt)
NEW_JOB_PER_ATTEMPT = {"cleanPodPolicy": "None", "backoffLimit": 0, "suspend": False}


StageKind = RewardModelTraining | AdapterTraining | PolicyAlignment | PolicyEvaluation


@pytest.fixture(scope="module")
def toy() -> Composition:
    return compose(load_file(ROOT / "examples/toy/pipeline.yaml", AlignmentPipeline))


def stage_of(c: Composition, name: str) -> StageKind:
    resource = c.stage(name).resource
    assert isinstance(resource, StageKind)
    return resource


def with_execution(resource: StageKind, **fields: Any) -> StageKind:
    execution = StageExecution.model_validate(fields)
    spec = resource.spec.model_copy(update={"execution": execution})
    return resource.model_copy(update={"spec": spec})


def container(job: dict[str, Any], replica: str = "Master") -> dict[str, Any]:
    c: dict[str, Any] = job["spec"]["pytorchReplicaSpecs"][replica]["template"]["spec"]["containers"][0]
    return c


def pod(job: dict[str, Any], replica: str = "Master") -> dict[str, Any]:
    p: dict[str, Any] = job["spec"]["pytorchReplicaSpecs"][replica]["template"]["spec"]
    return p


@pytest.mark.parametrize(
    ("stage", "verb"), [("rm-humor", "reward"), ("adapter", "adapter"), ("align", "align"), ("eval", "eval")]
)
def test_every_stage_kind_runs_its_verb_under_torchrun(toy: Composition, stage: str, verb: str) -> None:
    resource = stage_of(toy, stage)
    objs = render_stage(resource, attempt=1)
    c = container(objs.job)
    assert c["name"] == "pytorch"
    assert c["command"] == ["torchrun", "-m", "pro", "stage", verb, "--spec", "/etc/pro/stage.yaml"]
    # the ConfigMap carries exactly the resource, and reads back as it
    data = objs.config_map["data"]["stage.yaml"]
    assert parse(type(resource), load_text(data)) == resource


def test_defaults_for_a_single_node_cpu_stage(toy: Composition) -> None:
    resource = stage_of(toy, "align")
    objs = render_stage(resource, attempt=1)
    cm, job = objs.config_map, objs.job
    assert (
        cm["apiVersion"] == "v1"
        and cm["kind"] == "ConfigMap"
        and cm["metadata"]["name"] == "pal-toy-align-spec"
    )
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"
    assert job["metadata"]["name"] == "pal-toy-align-1"
    assert "namespace" not in job["metadata"] and "ownerReferences" not in job["metadata"]
    assert job["metadata"]["labels"] == {
        "pro.alignment.dev/pipeline": "toy",
        "pro.alignment.dev/stage": "align",
        STAGE_RESOURCE_LABEL: "toy-align",
        ATTEMPT_LABEL: "1",
    }
    assert job["metadata"]["annotations"] == {WORK_DIGEST: toy.stage("align").digest}
    assert cm["metadata"]["annotations"] == {WORK_DIGEST: toy.stage("align").digest}
    spec = job["spec"]
    assert spec["nprocPerNode"] == "1"
    assert spec["runPolicy"] == {**NEW_JOB_PER_ATTEMPT, "ttlSecondsAfterFinished": 86400}
    assert list(spec["pytorchReplicaSpecs"]) == ["Master"]
    master = spec["pytorchReplicaSpecs"]["Master"]
    assert master["replicas"] == 1 and master["restartPolicy"] == "Never"
    assert master["template"]["metadata"]["labels"] == job["metadata"]["labels"]
    c, p = container(job), pod(job)
    assert c["env"] == [
        {"name": "HOME", "value": "/tmp"},
        {"name": "PRO_CACHE_DIR", "value": "/tmp/pro-cache"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    assert c["resources"] == {}
    assert c["imagePullPolicy"] == "IfNotPresent" and c["image"] == "ghcr.io/pro-pipeline/trainer:latest"
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert p["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["volumeMounts"] == [
        {"name": "spec", "mountPath": "/etc/pro", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    assert p["volumes"] == [
        {"name": "spec", "configMap": {"name": "pal-toy-align-spec"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}},  # the chart's default
    ]
    assert p["automountServiceAccountToken"] is False  # stages never call the Kubernetes API
    for key in ("serviceAccountName", "priorityClassName", "nodeSelector", "tolerations", "imagePullSecrets"):
        assert key not in p


def test_a_multi_node_gpu_stage_with_scheduling_and_store_access(toy: Composition) -> None:
    resource = with_execution(
        stage_of(toy, "align"),
        image="registry.example/trainer:1.2",
        resources={
            "replicas": 3,
            "processesPerNode": 8,
            "gpus": 8,
            "cpu": "32",
            "memory": "512Gi",
            "activeDeadlineSeconds": 7200,
        },
        kubernetes={
            "serviceAccountName": "pro-trainer",
            "queue": "team-a",
            "priorityClassName": "high",
            "imagePullPolicy": "Always",
            "imagePullSecrets": ["regcred"],
            "nodeSelector": {"gpu": "h100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "ttlSecondsAfterFinished": None,
        },
        storage={"endpointUrl": "http://minio:9000", "region": "eu-1", "credentialsSecret": "s3-creds"},
    )
    owner = owner_reference("pro.alignment.dev/v1alpha1", "PolicyAlignment", "toy-align", "uid-1")
    objs = render_stage(resource, attempt=3, owner=owner)
    job = objs.job
    assert job["metadata"]["name"] == "pal-toy-align-3"
    assert job["metadata"]["labels"][ATTEMPT_LABEL] == "3"
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team-a"
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "pro.alignment.dev/v1alpha1",
            "kind": "PolicyAlignment",
            "name": "toy-align",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert objs.config_map["metadata"]["ownerReferences"] == job["metadata"]["ownerReferences"]
    spec = job["spec"]
    assert spec["nprocPerNode"] == "8"
    assert spec["runPolicy"] == {
        **NEW_JOB_PER_ATTEMPT,
        "activeDeadlineSeconds": 7200,
        "schedulingPolicy": {"queue": "team-a", "priorityClass": "high"},
    }
    replicas = spec["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1
    assert replicas["Worker"]["replicas"] == 2 and replicas["Worker"]["restartPolicy"] == "Never"
    assert replicas["Worker"]["template"] == replicas["Master"]["template"]
    assert replicas["Worker"]["template"] is not replicas["Master"]["template"]
    for role in ("Master", "Worker"):
        c, p = container(job, role), pod(job, role)
        assert c["image"] == "registry.example/trainer:1.2" and c["imagePullPolicy"] == "Always"
        assert c["resources"] == {
            "requests": {"cpu": "32", "memory": "512Gi"},
            "limits": {"cpu": "32", "memory": "512Gi", "nvidia.com/gpu": "8"},
        }
        env = {e["name"]: e for e in c["env"]}
        assert env["AWS_ENDPOINT_URL_S3"] == {"name": "AWS_ENDPOINT_URL_S3", "value": "http://minio:9000"}
        assert env["AWS_REGION"]["value"] == "eu-1"
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": key}}}
        assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
        assert all("value" not in env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
        assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
        assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "512Gi"}} in p["volumes"]
        assert p["serviceAccountName"] == "pro-trainer" and p["priorityClassName"] == "high"
        assert p["nodeSelector"] == {"gpu": "h100"}
        assert p["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert p["imagePullSecrets"] == [{"name": "regcred"}]


def test_a_suspended_stage_renders_a_suspended_job(toy: Composition) -> None:
    job = render_stage(with_execution(stage_of(toy, "align"), suspend=True), attempt=1).job
    assert job["spec"]["runPolicy"]["suspend"] is True


def test_the_platform_pod_policy_sizes_scratch_space_and_may_mount_the_token(toy: Composition) -> None:
    gpu = with_execution(stage_of(toy, "align"), resources={"gpus": 1})
    policy = PodPolicy(automount_service_account_token=True, tmp_size_limit="5Gi", shm_size_limit="2Gi")
    p = pod(render_stage(gpu, attempt=1, pods=policy).job)
    assert p["automountServiceAccountToken"] is True
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "5Gi"}} in p["volumes"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in p[
        "volumes"
    ]  # no memory set


def test_a_stage_resource_without_execution_gets_the_defaults() -> None:
    resource = load_resource(ROOT / "examples/toy/reward-humor.yaml")
    assert isinstance(resource, StageKind) and resource.spec.execution is None
    objs = render_stage(resource, attempt=1)
    assert objs.job["metadata"]["name"] == "rmt-rm-humor-1"
    assert container(objs.job)["image"] == StageExecution().image
    assert "annotations" not in objs.job["metadata"]  # no work digest on a hand-written stage


@pytest.mark.parametrize("name", ["a" * 63, "toy-" + "x" * 50 + "-rm-helpfulness"[:9], "b" * 45])
def test_job_names_leave_room_for_worker_pod_names(name: str) -> None:
    for attempt in (1, 2, 10, 100):
        job = job_name("RewardModelTraining", name, attempt)
        assert len(f"{job}-worker-999") <= 63, job
        assert job.endswith(f"-{attempt}") and job == job_name("RewardModelTraining", name, attempt)
    assert job_name("RewardModelTraining", name, 1) != job_name("RewardModelTraining", name, 2)
    shortened = [job_name("RewardModelTraining", name[:-1] + c, 1) for c in "yz"]
    assert shortened[0] != shortened[1]  # shortened names stay distinct


def test_names_carry_the_stage_kind_so_pipelines_never_share_a_configmap_or_job(toy: Composition) -> None:
    """Pipeline ``p`` with objective ``adapter`` and pipeline ``p-rm`` both have a stage resource named
    ``p-rm-adapter`` (a RewardModelTraining and an AdapterTraining): their ConfigMaps and jobs differ."""
    ones = {}
    for pipeline, objective in (("p", "adapter"), ("p-rm", "kindness")):
        doc = toy.pipeline.to_dict()
        doc["metadata"] = {"name": pipeline, "namespace": "ns"}
        doc["spec"]["objectives"][0]["name"] = objective
        composed = compose(AlignmentPipeline.model_validate(doc))
        ones[pipeline] = {s.resource.metadata.name: s for s in composed.stages}
    rm, adapter = ones["p"]["p-rm-adapter"], ones["p-rm"]["p-rm-adapter"]
    assert (rm.kind, adapter.kind) == ("RewardModelTraining", "AdapterTraining")
    a, b = render_stage(rm.resource, attempt=1), render_stage(adapter.resource, attempt=1)
    assert a.config_map["metadata"]["name"] == "rmt-p-rm-adapter-spec"
    assert b.config_map["metadata"]["name"] == "adt-p-rm-adapter-spec"
    assert (a.job["metadata"]["name"], b.job["metadata"]["name"]) == (
        "rmt-p-rm-adapter-1",
        "adt-p-rm-adapter-1",
    )
    assert config_map_name("PolicyEvaluation", "x" * 253).endswith("-spec")
    assert len(config_map_name("PolicyEvaluation", "x" * 253)) == 253


def test_job_names_start_with_a_letter_and_attempts_start_at_one(toy: Composition) -> None:
    assert job_name("PolicyAlignment", "7b-align", 1) == "pal-7b-align-1"
    assert job_name("PolicyAlignment", "toy-align", 2) == "pal-toy-align-2"
    with pytest.raises(ValueError, match="attempt must be 1 or more"):
        render_stage(stage_of(toy, "align"), attempt=0)


def test_stage_resource_object_is_owned_by_the_pipeline(toy: Composition) -> None:
    stage = toy.stage("rm-humor")
    body = stage_resource_object(stage, "pipeline-uid")
    assert body["apiVersion"] == "pro.alignment.dev/v1alpha1" and body["kind"] == "RewardModelTraining"
    assert set(body) == {"apiVersion", "kind", "metadata", "spec"}
    meta = body["metadata"]
    assert meta["name"] == "toy-rm-humor"
    assert meta["annotations"][WORK_DIGEST] == stage.digest
    assert meta["ownerReferences"] == [
        owner_reference("pro.alignment.dev/v1alpha1", "AlignmentPipeline", "toy", "pipeline-uid")
    ]
    assert body["spec"]["execution"]["image"] == "ghcr.io/pro-pipeline/trainer:latest"
    # the body (less the ownerReferences the model does not carry) reads back as the stage resource
    meta.pop("ownerReferences")
    assert type(stage.resource).model_validate(body) == stage.resource
    assert "ownerReferences" not in stage_resource_object(stage, None)["metadata"]
