"""The toy pipeline end to end through the real operator: kube-apiserver, TrainJobs on Trainer's default
``torch-distributed`` runtime run by the test executor, checkpoints and artifacts through the S3 server.
The operator runs as the chart's Deployment does: a token of the chart's ServiceAccount under the chart's
Roles only (least privilege), leader election on the chart's Lease.  The PyTorchJob backend runs the whole
pipeline under the same Roles in the schedule story (``test_schedule_story.py``), and both backends run
the kills, suspensions and retries (``test_lifecycle.py``, ``test_faults.py``); a stage applied on its own
runs here as a PyTorchJob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pro.planner.compose import compose
from pro.spec.pipeline import AlignmentPipeline
from pro.store import read_manifest
from pro.testing.chart import RELEASE
from pro.testing.operator import Cluster
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc
from tests.pro_operator.conftest import refusals

pytestmark = pytest.mark.integration


@pytest.fixture
def operator_rbac() -> str:
    return "chart"


@pytest.fixture
def training_runtime() -> str:
    """Trainer's own runtime, what a TrainJob names by default."""
    return "torch-distributed"


def pipeline_body(cluster: Cluster, toy: Path, name: str = "toy", scale: Any = MINIMAL) -> dict[str, Any]:
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", scale, name=name)
    doc["metadata"]["namespace"] = cluster.namespace
    doc["spec"]["retry"] = {"limit": 1, "backoffSeconds": 1}
    return doc


@pytest.mark.parametrize("job_backend", ["TrainJob"])
def test_the_toy_pipeline_runs_end_to_end_through_the_operator(cluster: Cluster, toy: Path) -> None:
    # the smallest scale: what this checks is how stages become jobs, artifacts, statuses and Events (what
    # they compute is the ml tier's: tests/pro/runner, tests/pro/stages)
    body = pipeline_body(cluster, toy, scale=MINIMAL)
    cluster.create("alignmentpipelines", body)
    cluster.wait(
        "the pipeline to finish",
        lambda: cluster.phase("alignmentpipelines", "toy") in ("Succeeded", "Failed"),
        600,
    )
    alp = cluster.get("alignmentpipelines", "toy")
    status = alp["status"]
    assert status["phase"] == "Succeeded", status
    c = compose(AlignmentPipeline.model_validate(body))
    assert [s["name"] for s in status["stages"]] == [s.name for s in c.stages]
    assert all(s["phase"] == "Succeeded" for s in status["stages"])
    assert status["report"] == f"{c.stage('eval').output}/report.html"
    assert status["observedGeneration"] == alp["metadata"]["generation"]
    assert {x["type"]: x["status"] for x in status["conditions"]}["Succeeded"] == "True"
    assert status["jobBackend"] == cluster.backend
    # kubectl get alp: Progress, Stage (none running) and Result, written by the operator
    assert (status["progress"], status["stage"]) == (f"{len(c.stages)}/{len(c.stages)}", "")
    assert status["result"] == f"win rate {status['evaluation']['winRate']:.3f}"
    assert status["evaluation"]["prompts"] > 0
    for stage in c.stages:  # every artifact committed in S3 for its work
        manifest = read_manifest(stage.output)
        assert manifest is not None and manifest.work_digest == stage.digest, stage.name
    # one job per stage, each owned by its stage resource, each stage resource owned by the pipeline
    jobs = cluster.jobs()
    assert len(jobs) == len(c.stages) and len(cluster.executor.launched) == len(c.stages)
    assert all(j["kind"] == "TrainJob" and cluster.job_is(j, "Succeeded") for j in jobs)
    assert {j["spec"]["runtimeRef"]["name"] for j in jobs} == {"torch-distributed"}
    for stage in c.stages:
        res = cluster.get(stage.kind.lower() + "s", stage.resource.metadata.name)
        assert res["metadata"]["ownerReferences"][0]["uid"] == alp["metadata"]["uid"]
        assert res["status"]["phase"] == "Succeeded" and res["status"]["artifact"] == stage.output
        assert res["status"]["jobBackend"] == cluster.backend
    # the pipeline's Events: one per stage resource it created, and its end; each stage resource has
    # an Event per transition of its own
    reasons = [r for r, _ in cluster.events_until("toy", "PipelineSucceeded")]
    assert sorted(reasons) == sorted(["StageCreated"] * len(c.stages) + ["PipelineSucceeded"]), reasons
    for stage in c.stages:
        assert [r for r, _ in cluster.events(stage.resource.metadata.name)] == ["Started", "Succeeded"]
    # all of it with the chart's RBAC: elected on its Lease, nothing refused (a namespaced operator does
    # not scan cluster-scoped namespaces or CRDs: kopf's scanning is off, so it never asks for more) but
    # the one documented read: a namespaced install may not list ClusterTrainingRuntimes (said once)
    from kubernetes import client

    lease = client.CoordinationV1Api(cluster.core.api_client).read_namespaced_lease(
        f"{RELEASE}-leader", cluster.namespace
    )
    assert lease.spec.holder_identity
    expected = 'cannot list resource "clustertrainingruntimes"'
    assert [expected if expected in line else line for line in refusals(cluster)] == [expected]


def test_a_stage_resource_applied_on_its_own_runs_with_explicit_inputs(cluster: Cluster, toy: Path) -> None:
    doc = pipeline_body(cluster, toy, "solo", MINIMAL)
    c = compose(AlignmentPipeline.model_validate(doc))
    rm = c.stage("rm-humor").resource.to_dict()
    rm["metadata"] = {"name": "humor-rm", "namespace": cluster.namespace}
    cluster.create("rewardmodeltrainings", rm)
    cluster.wait(
        "the stage", lambda: cluster.phase("rewardmodeltrainings", "humor-rm") in ("Succeeded", "Failed"), 300
    )
    st = cluster.get("rewardmodeltrainings", "humor-rm")["status"]
    assert st["phase"] == "Succeeded" and st["attempts"] == 1 and st["job"] == "rmt-humor-rm-1"
    assert st["jobBackend"] == "PyTorchJob"
    assert [(j["kind"], j["metadata"]["name"]) for j in cluster.jobs()] == [("PyTorchJob", st["job"])]
    assert read_manifest(rm["spec"]["output"]) is not None
    assert [r for r, _ in cluster.events("humor-rm")] == ["Started", "Succeeded"]
    assert refusals(cluster) == []  # the chart's Roles: nothing refused
