"""Which job runs a stage, and bad input about it, through the real operator: ``auto`` on a cluster with
Kubeflow Trainer only picks TrainJob (logged, and in the status); a backend the cluster does not serve, a
runtime that does not exist or cannot run torchrun, GPU counts a TrainJob's runtime cannot express — each
fails at once with a condition naming the field and what is installed, and no job, never a retry loop."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pro.testing import kube as kube_harness
from pro.testing.operator import Cluster, install_crds, operated
from tests.pro_operator.conftest import reward_model_stage, small_pipeline

pytestmark = pytest.mark.integration

RMS = "rewardmodeltrainings"
ALPS = "alignmentpipelines"
#: a runtime of Trainer's MPI policy (its launcher runs mpirun, not torchrun)
MPI_RUNTIME = {
    "apiVersion": "trainer.kubeflow.org/v1alpha1",
    "kind": "ClusterTrainingRuntime",
    "metadata": {"name": "mpi-test"},
    "spec": {
        "mlPolicy": {"numNodes": 1, "mpi": {"mpiImplementation": "OpenMPI"}},
        "template": {
            "spec": {
                "replicatedJobs": [
                    {
                        "name": "launcher",
                        "template": {
                            "metadata": {
                                "labels": {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}
                            },
                            "spec": {
                                "template": {"spec": {"containers": [{"name": "node", "image": "mpi"}]}}
                            },
                        },
                    }
                ]
            }
        },
    },
}


def failed_condition(cluster: Cluster, plural: str, name: str) -> dict[str, Any] | None:
    status = cluster.get(plural, name).get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    failed = conditions.get("Failed")
    return failed if status.get("phase") == "Failed" and failed and failed["status"] == "True" else None


@pytest.mark.parametrize("job_backend", ["TrainJob"])
def test_trainjob_settings_the_cluster_cannot_run_fail_at_once_naming_the_field(
    cluster: Cluster, toy: Path
) -> None:
    from kubernetes.client.rest import ApiException

    with_runtime = lambda name: {"kubernetes": {"trainingRuntime": name}}  # noqa: E731
    try:
        cluster.custom.create_cluster_custom_object(
            "trainer.kubeflow.org", "v1alpha1", "clustertrainingruntimes", MPI_RUNTIME
        )
    except ApiException as err:
        if err.status != 409:
            raise
    bodies = {
        "typo": with_runtime("torch-distribute"),
        "mpi": with_runtime("mpi-test"),
        "gpus": {"resources": {"processesPerNode": 4, "gpus": 2}},
    }
    for name, execution in bodies.items():
        cluster.create(RMS, reward_model_stage(cluster, toy, name, execution=execution))
    found = {
        name: cluster.wait(f"{name} to fail", lambda name=name: failed_condition(cluster, RMS, name), 60)
        for name in bodies
    }

    typo = found["typo"]
    assert typo["reason"] == "TrainingRuntimeNotFound", typo
    assert typo["message"] == (
        "spec.execution.kubernetes.trainingRuntime: ClusterTrainingRuntime 'torch-distribute' not found "
        "(installed ClusterTrainingRuntimes: mpi-test, pro-torch, torch-distributed)"
    )
    mpi = found["mpi"]
    assert mpi["reason"] == "TrainingRuntimeUnsupported", mpi
    assert mpi["message"].startswith(
        "spec.execution.kubernetes.trainingRuntime: runtime 'mpi-test' has no torch"
    )
    assert "mlPolicy: mpi" in mpi["message"] and "no trainer job named 'node'" in mpi["message"]
    assert mpi["message"].endswith(
        "(installed ClusterTrainingRuntimes that can: pro-torch, torch-distributed)"
    )
    gpus = found["gpus"]
    assert gpus["reason"] == "JobSettingsUnsupported", gpus
    assert gpus["message"].startswith(
        "spec.execution.resources.processesPerNode: 4 processes per node on 2 GPU"
    )

    time.sleep(3)  # nothing is retried: no job, one Warning each, the status as it was
    assert cluster.jobs() == [] and cluster.executor.launched == []
    for name, condition in found.items():
        st = cluster.get(RMS, name)["status"]
        assert st["attempts"] == 0 and st["message"] == condition["message"]
        events = cluster.events_until(name, condition["reason"], warnings=True)
        assert events == [(condition["reason"], condition["message"])]


# ------------------------------------------------------------------- a cluster with Trainer only
@pytest.fixture(scope="module")
def trainer_only() -> Iterator[str]:
    """A fresh API server with Kubeflow Trainer v2.3's CRDs and no PyTorchJob CRD (its kubeconfig)."""
    if os.environ.get("PRO_TEST_KUBECONFIG") or kube_harness.unavailable_reason():
        pytest.skip("needs kube-local: a cluster of its own without the PyTorchJob CRD")
    cluster = kube_harness.start(owner_pid=os.getpid())
    try:
        yield cluster.kubeconfig
    finally:
        kube_harness.stop(cluster)


@pytest.fixture
def trainer_cluster(
    trainer_only: str, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path
) -> Iterator[Cluster]:
    """The operator on ``auto`` (its default) against the Trainer-only cluster."""
    import uuid

    from kubernetes import client, config

    api = config.new_client_from_config(config_file=trainer_only)
    core = client.CoreV1Api(api)
    namespace = f"pro-test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    install_crds(api)
    try:
        with operated(
            trainer_only, namespace, api=api, core=core, bucket=s3_bucket, workdir=tmp_path, s3_env=s3_env,
            backend="TrainJob", operator_args=("--job-backend", "auto"), pytorchjob_crd=False,
        ) as running:  # fmt: skip
            yield running
    finally:
        api.close()


def test_auto_picks_trainjob_where_only_trainer_is_installed_and_pytorchjob_is_refused(
    trainer_cluster: Cluster, toy: Path
) -> None:
    cluster = trainer_cluster
    cluster.create(ALPS, small_pipeline(cluster, toy, "auto"))
    wanted = small_pipeline(cluster, toy, "v1")
    wanted["spec"]["kubernetes"] = {"jobBackend": "PyTorchJob"}
    cluster.create(ALPS, wanted)

    job = cluster.wait("the first job", lambda: cluster.job("rmt-auto-rm-helpfulness-1"), 60)
    assert job["kind"] == "TrainJob" and job["spec"]["runtimeRef"]["name"] == "torch-distributed"
    assert cluster.get(ALPS, "auto")["status"]["jobBackend"] == "TrainJob"
    cluster.wait("the stage to say so", lambda: cluster.get(RMS, "auto-rm-helpfulness").get("status", {}).get("jobBackend") == "TrainJob")  # fmt: skip
    log = cluster.operator.log.read_text()
    assert "job backend TrainJob (auto); the cluster serves: TrainJob (trainer.kubeflow.org/v1alpha1)" in log

    failed = cluster.wait("the v1 pipeline to fail", lambda: failed_condition(cluster, ALPS, "v1"), 30)
    assert failed["reason"] == "JobBackendUnavailable", failed
    assert failed["message"] == (
        "spec.kubernetes.jobBackend: PyTorchJob, but pytorchjobs.kubeflow.org/v1 is not served by this "
        "cluster (installed: TrainJob)"
    )
    assert not cluster.list(RMS) or all(r["metadata"]["name"].startswith("auto-") for r in cluster.list(RMS))
    assert cluster.events_until("v1", "JobBackendUnavailable", warnings=True) == [
        ("JobBackendUnavailable", failed["message"])
    ]
