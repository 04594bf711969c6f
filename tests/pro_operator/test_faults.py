"""Faults through the real operator: failed jobs and retries, jobs that lie about success, jobs that
never start, stale writes, malformed resources.  Every stage runs at MINIMAL scale (a few seconds).  The
faults every backend must survive run on both PyTorchJobs and TrainJobs."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Hashable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pro.spec.conventions import ATTEMPT_LABEL, STAGE_RESOURCE_LABEL
from pro.store import read_manifest
from pro.testing.operator import Cluster, install_crds
from tests.pro_operator.conftest import (
    BOTH,
    crash_once_image,
    finished,
    job_names,
    launched,
    reward_model_stage,
    small_pipeline,
)

pytestmark = pytest.mark.integration

RMS = "rewardmodeltrainings"
ALPS = "alignmentpipelines"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


@pytest.mark.parametrize("job_backend", BOTH)
def test_a_crashed_job_is_retried_and_the_retry_succeeds(cluster: Cluster, toy: Path) -> None:
    image = crash_once_image(cluster)  # its first job is killed (a lost node, OOM): worth a retry
    body = reward_model_stage(
        cluster, toy, "late-rm", execution={"image": image, "retry": {"limit": 1, "backoffSeconds": 2}}
    )
    cluster.create(RMS, body)
    cluster.wait("the stage to finish", lambda: finished(cluster, RMS, "late-rm"), 120)
    st = cluster.get(RMS, "late-rm")["status"]
    assert st["phase"] == "Succeeded", st["message"]
    assert (
        st["attempts"] == 2 and st["failed"] == 1 and st["job"] == "rmt-late-rm-2" and st["lastFailureTime"]
    )
    assert job_names(cluster) == ["rmt-late-rm-1", "rmt-late-rm-2"] and launched(cluster) == job_names(
        cluster
    )
    assert cluster.job_is(cluster.job("rmt-late-rm-1"), "Failed")
    assert st["jobBackend"] == cluster.backend
    assert read_manifest(body["spec"]["output"]) is not None
    reasons = [r for r, _ in cluster.events_until("late-rm", "Succeeded")]
    assert reasons.index("AttemptFailed") < reasons.index("Succeeded"), reasons
    failed = dict(cluster.events("late-rm", warnings=True))["AttemptFailed"]
    pod = cluster.pod_pattern("rmt-late-rm-1")
    assert re.search(rf"attempt 1 failed: pod {pod} exited with 137: Killed", failed), failed
    # after its 2 s backoff, or at once when the operator saw the failure that late (under load)
    assert re.search(r"; (retry at \S+Z|retrying now as attempt 2)$", failed), failed


@pytest.mark.parametrize("job_backend", BOTH)
def test_a_missing_data_file_fails_the_stage_at_once_with_its_reason_and_blocks_the_pipeline(
    cluster: Cluster, toy: Path
) -> None:
    # retries left, but a file that is not there will not be there on a retry (the stage exits 65 and
    # torchrun reports it): one job, no backoff
    doc = small_pipeline(cluster, toy, "nodata", retry={"limit": 2, "backoffSeconds": 30})
    missing = cluster.workdir / "missing.jsonl"
    doc["spec"]["objectives"][0]["data"]["path"] = str(missing)
    cluster.create(ALPS, doc)
    cluster.wait("the pipeline to finish", lambda: finished(cluster, ALPS, "nodata"), 120)

    alp = cluster.get(ALPS, "nodata")
    assert alp["status"]["phase"] == "Failed", alp["status"]
    stages = {s["name"]: s for s in alp["status"]["stages"]}
    assert stages["rm-helpfulness"]["phase"] == "Failed" and stages["rm-helpfulness"]["attempts"] == 1
    assert stages["align"]["phase"] == "Blocked" and "rm-helpfulness" in stages["align"]["message"]
    assert not cluster.exists("policyalignments", "nodata-align")  # a blocked stage gets no resource
    assert (
        conditions(alp)["Failed"]["status"] == "True" and str(missing) in conditions(alp)["Failed"]["message"]
    )

    rm = cluster.get(RMS, "nodata-rm-helpfulness")
    failed = conditions(rm)["Failed"]
    assert failed["status"] == "True" and failed["reason"] == "PermanentFailure", failed
    message = failed["message"]
    # the stage's own `error:` line (naming the field) as the reason (a PyTorchJob pod's termination
    # message, a TrainJob pod's log), then the end of its log
    pod = cluster.pod_pattern("rmt-nodata-rm-helpfulness-1")
    assert re.match(
        rf"attempt 1 failed for good \(not retried\): pod {pod} exited with 1: "
        + re.escape(f"spec.data.path: {missing}: no such file"),
        message,
    ), message
    first_line, _, log_part = message.partition("\nlast lines of the log:\n")
    assert "Traceback" not in first_line and str(missing) in log_part, message
    assert rm["status"]["message"] == message and rm["status"]["failed"] == 1
    assert stages["rm-helpfulness"]["message"] == message  # the stage's words, not wrapped again
    assert conditions(alp)["Failed"]["message"] == f"rm-helpfulness: {message}"
    warnings = cluster.events_until("nodata-rm-helpfulness", "Failed", warnings=True)
    assert [r for r, _ in warnings] == ["Failed"], warnings  # no AttemptFailed: nothing is retried
    assert warnings[0][1] == message
    assert "PipelineFailed" in dict(cluster.events_until("nodata", "PipelineFailed", warnings=True))
    assert job_names(cluster) == ["rmt-nodata-rm-helpfulness-1"]


def test_a_job_that_exits_successfully_without_committing_fails_its_stage(
    cluster: Cluster, toy: Path
) -> None:
    image = "registry.invalid/pro-trainer:commits-nothing"
    cluster.executor.images[image] = [sys.executable, "-c", "print('training done (not really)')"]
    body = reward_model_stage(cluster, toy, "liar", execution={"image": image, "retry": {"limit": 0}})
    cluster.create(RMS, body)
    cluster.wait("the stage to finish", lambda: finished(cluster, RMS, "liar"), 60)

    st = cluster.get(RMS, "liar")["status"]
    assert cluster.job_is(cluster.job("rmt-liar-1"), "Succeeded")  # the job says it succeeded
    assert st["phase"] == "Failed" and st.get("artifact") is None, st
    assert "exited successfully but committed no artifact" in st["message"], st
    assert read_manifest(body["spec"]["output"]) is None


@pytest.mark.parametrize("job_backend", BOTH)
def test_a_job_stuck_in_created_is_abandoned_retried_and_finally_fails(cluster: Cluster, toy: Path) -> None:
    image = "registry.invalid/pro-trainer:does-not-exist"
    cluster.executor.images[image] = None  # the registry refuses it: pods wait in ImagePullBackOff
    body = reward_model_stage(
        cluster,
        toy,
        "stuck",
        execution={
            "image": image,
            "retry": {"limit": 1, "backoffSeconds": 1},
            "kubernetes": {"startDeadlineSeconds": 3},
        },
    )
    cluster.create(RMS, body)
    cluster.wait("the stage to finish", lambda: finished(cluster, RMS, "stuck"), 60)

    st = cluster.get(RMS, "stuck")["status"]
    assert st["phase"] == "Failed" and st["attempts"] == 2, st
    assert "job rmt-stuck-2 not running 3s after creation" in st["message"], st
    assert "ImagePullBackOff" in st["message"] and image in st["message"], st
    assert job_names(cluster) == ["rmt-stuck-1", "rmt-stuck-2"] and launched(cluster) == []
    for job in cluster.jobs():  # kept as the record of the attempt, suspended to free its pods
        assert (
            "not running 3s after creation" in job["metadata"]["annotations"]["pro.alignment.dev/abandoned"]
        )
        assert cluster.job_suspended(job)
    assert st["failed"] == 2, st
    warnings = cluster.events_until("stuck", "Failed", warnings=True)
    assert [r for r, _ in warnings] == ["AttemptFailed", "Failed"], warnings


def test_malformed_pipelines_are_refused_or_marked_invalid_and_others_go_on(
    cluster: Cluster, toy: Path
) -> None:
    from kubernetes.client.rest import ApiException

    bad_enum = small_pipeline(cluster, toy, "bad-enum")
    bad_enum["spec"]["alignment"]["method"] = "telepathy"
    with pytest.raises(ApiException) as refused:
        cluster.create(ALPS, bad_enum)
    assert refused.value.status == 422 and "spec.alignment.method" in refused.value.body

    # valid for the (CEL-less) schema, but the models' cross-field rule says no
    no_adapter = small_pipeline(cluster, toy, "no-adapter")
    no_adapter["spec"]["alignment"]["weights"] = {"mode": "adapter"}
    cluster.create(ALPS, no_adapter)
    good = small_pipeline(cluster, toy, "good")
    cluster.create(ALPS, good)

    cluster.wait("the invalid pipeline", lambda: cluster.phase(ALPS, "no-adapter") == "Invalid", 30)
    alp = cluster.get(ALPS, "no-adapter")
    valid = conditions(alp)["Valid"]
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec", valid
    assert "alignment.weights.mode" in valid["message"] and "adapter" in valid["message"], valid
    assert alp["status"]["observedGeneration"] == alp["metadata"]["generation"]
    assert "InvalidSpec" in dict(cluster.events_until("no-adapter", "InvalidSpec", warnings=True))

    cluster.wait("the good pipeline", lambda: finished(cluster, ALPS, "good"), 120)
    assert cluster.phase(ALPS, "good") == "Succeeded"
    assert all(j["metadata"]["labels"]["pro.alignment.dev/pipeline"] == "good" for j in cluster.jobs())


# ---------------------------------------------------------------------------------------------------
# A stale resourceVersion on a status write: the controller and the work queue in this process, against
# the real API server (no operator process: the test owns the cache and decides when it catches up).


@pytest.fixture
def api(kube_cluster: Any, kube_namespace: Any) -> Iterator[tuple[Any, str]]:
    from kubernetes import config

    from pro.testing.kubeflow import install_kubeflow

    client = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_crds(client)
    install_kubeflow(client)
    try:
        yield client, kube_namespace[1]
    finally:
        client.close()


def test_a_status_write_with_a_stale_resource_version_conflicts_and_is_retried(
    api: tuple[Any, str], toy: Path, tmp_path: Path, kube_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes import client

    from pro_operator.cache import ObjectCache
    from pro_operator.context import Context
    from pro_operator.handlers import client as operator_client
    from pro_operator.kube import Conflict, custom_ref
    from pro_operator.stage import reconcile_stage
    from pro_operator.workqueue import WorkQueue

    api_client, ns = api
    custom = client.CustomObjectsApi(api_client)
    fake = Cluster("", ns, custom, None, None, None, "bucket", tmp_path)  # type: ignore[arg-type]
    body = reward_model_stage(fake, toy, "racy")
    created = custom.create_namespaced_custom_object("pro.alignment.dev", "v1alpha1", ns, RMS, body)
    # someone else changes the object after the operator's cache saw it: the cache is one version behind
    fresh = custom.patch_namespaced_custom_object(
        "pro.alignment.dev", "v1alpha1", ns, RMS, "racy", {"metadata": {"labels": {"team": "a"}}}
    )
    assert fresh["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    monkeypatch.setenv("KUBECONFIG", kube_cluster.kubeconfig)
    kube = operator_client(in_cluster=False)
    cache = ObjectCache()
    cache.put(RMS, created)
    outcomes: list[str] = []

    def handler(key: Hashable) -> datetime | None:
        try:
            again = reconcile_stage(ctx, *key)  # type: ignore[misc]
        except Conflict as err:
            outcomes.append(f"conflict: {err}")
            # the watch catches up: the operator's cache gets the current object (and the job it created)
            cache.put(RMS, kube.get(custom_ref(RMS, ns, "racy")))
            jobs = custom.list_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs")["items"]
            for job in jobs:
                cache.put("pytorchjobs", job)
            raise
        outcomes.append("ok")
        return again

    ctx = Context(kube=kube, cache=cache, enqueue=lambda key: None, committed=lambda uri, digest: False)

    async def run() -> None:
        queue = WorkQueue(handler, workers=2)
        queue.start()
        queue.add((RMS, ns, "racy"))
        for _ in range(200):
            if "ok" in outcomes and not len(queue):
                break
            await asyncio.sleep(0.05)
        await queue.stop()

    asyncio.run(run())

    assert len(outcomes) == 2 and outcomes[1] == "ok", outcomes
    assert outcomes[0].startswith("conflict: patch rewardmodeltrainings.pro.alignment.dev/status"), outcomes
    assert "the object has been modified" in outcomes[0], outcomes
    got = custom.get_namespaced_custom_object("pro.alignment.dev", "v1alpha1", ns, RMS, "racy")
    assert got["metadata"]["labels"]["team"] == "a"  # the other writer's change is kept
    st = got["status"]
    assert st["phase"] == "Running" and st["attempts"] == 1 and st["job"] == "rmt-racy-1", st
    jobs = custom.list_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs")["items"]
    assert [j["metadata"]["name"] for j in jobs] == ["rmt-racy-1"]  # the retried pass created no second job
    assert jobs[0]["metadata"]["labels"][STAGE_RESOURCE_LABEL] == "racy"
    assert jobs[0]["metadata"]["labels"][ATTEMPT_LABEL] == "1"


@pytest.mark.parametrize("job_backend", BOTH)
def test_a_job_held_suspended_gets_its_whole_start_deadline_once_resumed(cluster: Cluster, toy: Path) -> None:
    """Kueue holds jobs suspended until admitted: the start deadline counts from the resumption."""
    image = "registry.invalid/pro-trainer:slow-registry"
    cluster.executor.images[image] = None
    execution = {"image": image, "retry": {"limit": 0}, "kubernetes": {"startDeadlineSeconds": 3}}
    cluster.create(RMS, reward_model_stage(cluster, toy, "held", execution=execution))
    created = cluster.wait("the job", lambda: cluster.job("rmt-held-1"), 30)["metadata"]["creationTimestamp"]
    cluster.patch(RMS, "held", {"spec": {"execution": {"suspend": True}}})
    cluster.wait("the job suspended", lambda: cluster.job_is(cluster.job("rmt-held-1"), "Suspended"), 30)
    # held longer than its start deadline
    time.sleep(max(0.0, parse_time(created).timestamp() + 4 - time.time()))
    assert cluster.phase(RMS, "held") == "Suspended"
    resumed = time.time()
    cluster.patch(RMS, "held", {"spec": {"execution": {"suspend": False}}})
    cluster.wait("the stage to finish", lambda: finished(cluster, RMS, "held"), 30)

    st = cluster.get(RMS, "held")["status"]
    assert st["phase"] == "Failed" and "job rmt-held-1 not running 3s after resumption" in st["message"], st
    abandoned = cluster.job("rmt-held-1")["metadata"]["annotations"]["pro.alignment.dev/abandoned-at"]
    # given up 3 s after the resumption (the annotation has whole seconds), not at once
    assert parse_time(abandoned).timestamp() - resumed > 2, (resumed, abandoned)
