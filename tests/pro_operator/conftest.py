"""Operator integration fixtures: CRDs on the real API server, the S3 server, the job executor, the
real operator process, and the operator's own API client."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner.compose import compose
from pro.spec.guardrails import Guardrails
from pro.spec.pipeline import AlignmentPipeline
from pro.testing.chart import under_chart_rbac
from pro.testing.operator import Cluster, install_crds, operated
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc, small_world
from pro_operator import kube as k
from pro_operator.handlers import client

RMS = "rewardmodeltrainings"
SAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "samples"


def stage_body(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    """The sample RewardModelTraining, renamed."""
    body: dict[str, Any] = yaml.safe_load(
        (SAMPLE / "pro.alignment.dev_v1alpha1_rewardmodeltraining.yaml").read_text()
    )
    body["metadata"] = {"name": name, "namespace": namespace, "labels": labels}
    return body


@pytest.fixture
def operator_env() -> dict[str, str]:
    """Extra environment of the operator process (a test module overrides this fixture, e.g. to inject
    the clock)."""
    return {}


@pytest.fixture
def operator_args() -> tuple[str, ...]:
    """Extra arguments of the operator process (a test module overrides this fixture, e.g. to elect a
    leader)."""
    return ()


#: the job backends a test runs on when it runs on both (``@pytest.mark.parametrize("job_backend", BOTH)``)
BOTH = ("PyTorchJob", "TrainJob")


@pytest.fixture
def job_backend() -> str:
    """The kind of job the operator runs stages as (a test parametrizes it to run on both)."""
    return "PyTorchJob"


@pytest.fixture
def training_runtime() -> str:
    """A TrainJob's runtime: ``pro-torch`` (manifests/trainer), which fails a failed node at once as a
    PyTorchJob does (``torch-distributed`` restarts it in place up to 6 times first)."""
    return "pro-torch"


#: where fault injection by image pulls from (:class:`~pro.testing.jobexec.JobExecutor` ``images``)
TEST_REGISTRY = "registry.invalid/*"


@pytest.fixture
def guardrails() -> dict[str, Any]:
    """The operator's guardrails (the chart's ``guardrails`` values; a test module overrides this
    fixture): the chart's defaults, and the images of the test registry."""
    return {"allowedImages": [*Guardrails().allowed_images, TEST_REGISTRY]}


@pytest.fixture
def operator_rbac() -> str:
    """Whose credentials the operator runs with: ``admin`` (the test cluster's), or ``chart`` (a token of
    the chart's ServiceAccount under the chart's Roles, leader election on, as its Deployment runs it; a
    test module overrides this fixture)."""
    return "admin"


@pytest.fixture
def cluster(  # noqa: PLR0917 - pytest fixtures
    kube_cluster: Any,
    kube_namespace: Any,
    s3_server: Any,
    s3_env: dict[str, str],
    s3_bucket: str,
    operator_env: dict[str, str],
    operator_args: tuple[str, ...],
    operator_rbac: str,
    job_backend: str,
    training_runtime: str,
    guardrails: dict[str, Any],
    tmp_path: Path,
) -> Iterator[Cluster]:
    from kubernetes import config

    core, namespace = kube_namespace
    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_crds(api)
    limits = tmp_path / "guardrails.yaml"
    limits.write_text(yaml.safe_dump(guardrails))
    kubeconfig, env, args = None, dict(operator_env), tuple(operator_args)
    if operator_rbac == "chart":
        kubeconfig, more_env, more_args = under_chart_rbac(
            api, core, kube_cluster.kubeconfig, namespace, tmp_path
        )
        env, args = {**env, **more_env}, (*args, *more_args)
    try:
        with operated(
            kube_cluster.kubeconfig, namespace, api=api, core=core, bucket=s3_bucket, workdir=tmp_path,
            s3_env=s3_env, operator_env=env, backend=job_backend, operator_kubeconfig=kubeconfig,
            operator_args=("--training-runtime", training_runtime, "--guardrails", str(limits), *args),
        ) as running:  # fmt: skip
            yield running
    finally:
        api.close()


def small_pipeline(
    cluster: Cluster, toy: Path, name: str, *, objectives: int = 1, retry: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The toy pipeline at MINIMAL scale, trimmed to ``objectives`` reward models and an alignment with
    uniform weights (no adapter, no evaluation): ``objectives`` + 1 stages, a few seconds each."""
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", MINIMAL, name=name)
    doc["metadata"]["namespace"] = cluster.namespace
    spec = doc["spec"]
    del spec["adapter"], spec["evaluation"]
    spec["alignment"]["weights"] = {"mode": "uniform"}
    spec["alignment"].pop("world", None)
    spec["objectives"] = spec["objectives"][:objectives]
    spec["retry"] = retry or {"limit": 0, "backoffSeconds": 1}
    return doc


def reward_model_stage(
    cluster: Cluster,
    toy: Path,
    name: str,
    *,
    data: Path | None = None,
    execution: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A standalone RewardModelTraining (MINIMAL scale) reading ``data`` (default: the toy's pairs)."""
    doc = small_pipeline(cluster, toy, "solo")
    rm = compose(AlignmentPipeline.model_validate(doc)).stages[0].resource.to_dict()
    rm["metadata"] = {"name": name, "namespace": cluster.namespace}
    rm["spec"]["output"] = f"s3://{cluster.bucket}/standalone/{name}"
    if data is not None:
        rm["spec"]["data"]["path"] = str(data)
    rm["spec"]["execution"] = {**rm["spec"].get("execution", {}), **(execution or {})}
    return rm


CRASH_ONCE = """\
import os, sys
import yaml
from pro.spec.kinds import kind_named
marker = bytes.fromhex(sys.argv[1]).decode()  # spelled so that the executor does not map its /tmp
if not os.path.exists(marker):
    open(marker, "w").close()
    print("Killed", file=sys.stderr)
    sys.exit(137)
verb = kind_named(yaml.safe_load(open("/etc/pro/stage.yaml"))["kind"]).verb
os.execvp("torchrun", ["torchrun", "--standalone", "--nproc-per-node=1", "-m", "pro", "stage", verb,
                       "-f", "/etc/pro/stage.yaml"])
"""


def crash_once_image(cluster: Cluster) -> str:
    """An image whose first job dies as a killed process does (a lost node, OOM: worth a retry); every
    later job runs its stage as the trainer image does."""
    image = "registry.invalid/pro-trainer:crashes-once"
    marker = bytes(str(cluster.workdir / "crashed-once"), "utf-8").hex()
    cluster.executor.images[image] = [sys.executable, "-c", CRASH_ONCE, marker]
    return image


def finished(cluster: Cluster, plural: str, name: str) -> bool:
    return cluster.phase(plural, name) in ("Succeeded", "Failed")


def job_names(cluster: Cluster) -> list[str]:
    return sorted(j["metadata"]["name"] for j in cluster.jobs())


def refusals(cluster: Cluster) -> list[str]:
    """The operator's log lines saying the API server refused it something (under ``operator_rbac`` =
    ``chart``: what the chart's Roles do not allow)."""
    log = cluster.operator.log.read_text()
    return [line for line in log.splitlines() if re.search(r"forbidden|not enough permissions", line, re.I)]


def launched(cluster: Cluster) -> list[str]:
    """Names of the jobs the executor launched, in order (a relaunch after a suspension counts again)."""
    return [key.split("/", 1)[1] for key in cluster.executor.launched]


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small toy world, generated once per worker (session-scoped, so that the tests of a module
    are not pinned to one worker); tests read it and never write into it."""
    return small_world(tmp_path_factory.mktemp("world") / "toy")


@pytest.fixture
def kubeconfig(kube_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The local cluster's kubeconfig, as $KUBECONFIG and parsed."""
    monkeypatch.setenv("KUBECONFIG", kube_cluster.kubeconfig)
    doc: dict[str, Any] = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    return doc


@pytest.fixture
def api(kube_cluster: Any, kube_namespace: Any, kubeconfig: dict[str, Any]) -> tuple[k.Kube, str]:
    """The operator's API client logged in from the kubeconfig, our CRDs installed, and a namespace."""
    from kubernetes import config

    from pro.testing.kubeflow import install_kubeflow
    from pro.testing.operator import install_crds

    api_client = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    try:
        install_crds(api_client)
        install_kubeflow(api_client)
    finally:
        api_client.close()
    return client(in_cluster=False), kube_namespace[1]
