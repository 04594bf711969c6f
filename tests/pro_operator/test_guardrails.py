"""Tenant guardrails through the real operator on a real API server: what the platform does not allow is
refused before anything is created (one condition naming the field and the rule, one Warning Event, no
job, no retry); a Secret not labelled for pro is never handed to a pod; a ConfigMap the stage does not
own is never changed; the namespace's limit of running jobs holds a stage in Queued until a job ends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pro.spec.conventions import PIPELINE_LABEL
from pro.spec.guardrails import Guardrails
from pro.testing.operator import Cluster
from tests.pro_operator.conftest import TEST_REGISTRY, job_names, launched, reward_model_stage, small_pipeline

pytestmark = pytest.mark.integration

RMS = "rewardmodeltrainings"
ALPS = "alignmentpipelines"
EVIL = "registry.evil/x:1"
#: a stage image that holds its job running until a file exists (its path hex-encoded: the job executor
#: maps /tmp paths in a command to the pod's own)
HOLD = "import os, sys, time\npath = bytes.fromhex(sys.argv[1]).decode()\nwhile not os.path.exists(path): time.sleep(0.1)"


@pytest.fixture
def guardrails() -> dict[str, Any]:
    """The chart's defaults with the test registry, and one running stage job per namespace."""
    return {"allowedImages": [*Guardrails().allowed_images, TEST_REGISTRY], "maxRunningJobsPerNamespace": 1}


def condition(cluster: Cluster, plural: str, name: str, type_: str) -> dict[str, Any]:
    conditions = (cluster.get(plural, name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), {})


def refused(cluster: Cluster, plural: str, name: str) -> dict[str, Any]:
    """The object's Failed condition once the operator refused it."""
    found: dict[str, Any] = cluster.wait(
        f"{name} refused",
        lambda: (c := condition(cluster, plural, name, "Failed")).get("status") == "True" and c,
        30,
    )
    return found


def restarted_log(cluster: Cluster) -> str:
    """The log of the operator's latest start."""
    return cluster.operator.log.read_text().rsplit("==== operator start", 1)[-1]


def config_maps(cluster: Cluster) -> dict[str, Any]:
    return {m.metadata.name: m for m in cluster.core.list_namespaced_config_map(cluster.namespace).items}


def test_the_guardrails_refuse_at_once_and_the_job_limit_queues(cluster: Cluster, toy: Path) -> None:
    from kubernetes import client

    allowed = ", ".join([*Guardrails().allowed_images, TEST_REGISTRY])
    # a Secret nobody labelled for pro (its keys would be the stage pods' environment) and a ConfigMap of
    # the name a stage's spec ConfigMap has, that is not the stage's
    cluster.core.create_namespaced_secret(
        cluster.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="db-admin"),
            string_data={"AWS_ACCESS_KEY_ID": "admin", "AWS_SECRET_ACCESS_KEY": "hunter2"},
        ),
    )
    squatted = {"stage.yaml": "somebody else's"}
    cluster.core.create_namespaced_config_map(
        cluster.namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="rmt-squat-spec"), data=squatted),
    )
    stolen = {"storage": {"credentialsSecret": "db-admin"}}
    evil_pipeline = small_pipeline(cluster, toy, "evilpipe")
    evil_pipeline["spec"]["image"] = EVIL
    cluster.create(RMS, reward_model_stage(cluster, toy, "evil", execution={"image": EVIL}))
    cluster.create(RMS, reward_model_stage(cluster, toy, "sneaky", execution=stolen))
    cluster.create(RMS, reward_model_stage(cluster, toy, "squat"))
    cluster.create(ALPS, evil_pipeline)
    # a stage resource of the name a pipeline's stage would have, that is not that pipeline's (suspended:
    # it runs nothing itself)
    squatter = reward_model_stage(cluster, toy, "taken-rm-helpfulness", execution={"suspend": True})
    cluster.create(RMS, squatter)
    cluster.create(ALPS, small_pipeline(cluster, toy, "taken"))

    failed = refused(cluster, RMS, "evil")
    assert failed["reason"] == "NotAllowed"
    assert failed["message"] == f"spec.execution.image: {EVIL} is not allowed (allowed: {allowed})"
    assert cluster.phase(RMS, "evil") == "Failed"
    failed = refused(cluster, RMS, "sneaky")
    assert failed["reason"] == "NotAllowed"
    assert failed["message"] == (
        "spec.execution.storage.credentialsSecret: Secret db-admin is not labelled "
        "pro.alignment.dev/credentials=true (only Secrets labelled so may be read by stage pods; whoever "
        "may edit the Secret labels it)"
    )
    failed = refused(cluster, ALPS, "evilpipe")  # at the pipeline, by its own field: nothing created
    assert failed["reason"] == "NotAllowed"
    assert failed["message"].startswith(f"spec.image: {EVIL} is not allowed (allowed: ")
    failed = refused(cluster, RMS, "squat")
    assert failed["reason"] == "NotOwned"
    assert (
        f"ConfigMap {cluster.namespace}/rmt-squat-spec exists and is not this object's" in failed["message"]
    )
    assert config_maps(cluster)["rmt-squat-spec"].data == squatted  # never patched
    failed = refused(cluster, ALPS, "taken")
    assert failed["reason"] == "NotOwned" and failed["message"].startswith(
        f"stage rm-helpfulness: RewardModelTraining {cluster.namespace}/taken-rm-helpfulness exists and is "
        "not this object's (controlled by nothing)"
    )
    assert cluster.get(RMS, "taken-rm-helpfulness")["spec"] == squatter["spec"]  # never taken over
    assert "evilpipe" not in {
        (r["metadata"].get("labels") or {}).get(PIPELINE_LABEL) for r in cluster.list(RMS)
    }
    assert job_names(cluster) == []  # nothing refused ran
    assert not {"rmt-evil-spec", "rmt-sneaky-spec"} & set(config_maps(cluster))

    # looked at again (a change, an operator restart), a refusal is neither retried nor told twice
    for name, reason in (("evil", "NotAllowed"), ("sneaky", "NotAllowed"), ("squat", "NotOwned"),
                         ("evilpipe", "NotAllowed"), ("taken", "NotOwned")):  # fmt: skip
        cluster.events_until(name, reason, warnings=True)  # posted (off the reconcile path) before the kill
    for name in ("evil", "sneaky", "squat"):
        cluster.touch(RMS, name)
    cluster.touch(ALPS, "evilpipe")
    cluster.touch(ALPS, "taken")
    cluster.operator.kill()
    cluster.operator.start()
    cluster.wait("the operator to look again", lambda: "pro-operator started" in restarted_log(cluster), 30)
    # its reconciles of everything there is: queued at its start, so done (and their Events, posted in
    # order, out) once two objects created after it, a stage and a pipeline (each queue lane), are told
    later = small_pipeline(cluster, toy, "evilpipe-later")
    later["spec"]["image"] = EVIL
    cluster.create(RMS, reward_model_stage(cluster, toy, "evil-later", execution={"image": EVIL}))
    cluster.create(ALPS, later)
    cluster.events_until("evil-later", "NotAllowed", warnings=True)
    cluster.events_until("evilpipe-later", "NotAllowed", warnings=True)
    for name, reason in (("evil", "NotAllowed"), ("sneaky", "NotAllowed"), ("squat", "NotOwned"),
                         ("evilpipe", "NotAllowed"), ("taken", "NotOwned")):  # fmt: skip
        warnings = [r for r, _ in cluster.events(name, warnings=True)]
        assert warnings == [reason], (name, warnings)
    assert job_names(cluster) == [] and config_maps(cluster)["rmt-squat-spec"].data == squatted

    # one running job per namespace: a second stage waits, Queued, until the first job ends
    release = cluster.workdir / "release"
    hold = "registry.invalid/pro-trainer:holds"
    cluster.executor.images[hold] = [sys.executable, "-c", HOLD, str(release).encode().hex()]
    cluster.create(
        RMS, reward_model_stage(cluster, toy, "first", execution={"image": hold, "retry": {"limit": 0}})
    )
    cluster.wait("the first job to run", lambda: "rmt-first-1" in launched(cluster), 60)
    # its credentials from a Secret labelled for pro: allowed
    cluster.core.create_namespaced_secret(
        cluster.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="pro-s3", labels={"pro.alignment.dev/credentials": "true"}),
            string_data={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        ),
    )
    second = reward_model_stage(cluster, toy, "second")
    second["spec"]["execution"].setdefault("storage", {})["credentialsSecret"] = "pro-s3"
    cluster.create(RMS, second)
    cluster.wait("the second stage to queue", lambda: cluster.phase(RMS, "second") == "Queued", 30)
    running = condition(cluster, RMS, "second", "Running")
    assert (running["status"], running["reason"]) == ("False", "Queued")
    assert running["message"] == "namespace limit 1 running jobs reached"
    assert job_names(cluster) == ["rmt-first-1"]
    assert cluster.events_until("second", "Queued")[-1] == (
        "Queued",
        "namespace limit 1 running jobs reached: the next job starts when one ends",
    )
    release.touch()  # the first job ends (it committed nothing: its stage fails, with no retry left)
    cluster.wait("the second job", lambda: cluster.job("rmt-second-1"), 60)
    assert cluster.phase(RMS, "first") == "Failed"
    job = cluster.job("rmt-second-1")
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False  # stages never call the Kubernetes API
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "pro-s3"
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]
