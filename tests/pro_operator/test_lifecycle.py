"""The operator's and the pipelines' lifecycles: an operator SIGKILLed at every phase of a pipeline and
restarted, a pipeline deleted (garbage collection through owner references), suspended and resumed — the
kill and the suspension on both job backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.testing.operator import Cluster
from tests.pro_operator.conftest import BOTH, crash_once_image, finished, job_names, launched, small_pipeline

pytestmark = pytest.mark.integration

RMS = "rewardmodeltrainings"
ALPS = "alignmentpipelines"
ALIGNS = "policyalignments"


@pytest.mark.parametrize("job_backend", BOTH)
def test_an_operator_killed_at_every_phase_resumes_without_duplicate_jobs(
    cluster: Cluster, toy: Path
) -> None:
    op = cluster.operator
    # attempt 1 is killed (the image's first job dies), attempt 2 runs; a backoff long enough to be seen
    # (and to kill the operator in) even when the restarted operator sees attempt 1's failure a few
    # seconds late on a loaded machine
    doc = small_pipeline(cluster, toy, "crashy", retry={"limit": 1, "backoffSeconds": 8})
    doc["spec"]["image"] = crash_once_image(cluster)
    rm, align = "crashy-rm-helpfulness", "crashy-align"
    rm_job, align_job = f"rmt-{rm}", f"pal-{align}"  # jobs: <kind's short name>-<stage resource>-<attempt>

    # down before anything exists: the pipeline is created while no operator runs
    op.kill()
    cluster.create(ALPS, doc)
    op.start()
    # down while the first job runs
    cluster.wait("job 1 running", lambda: f"{rm_job}-1" in launched(cluster), 60)
    op.kill()
    op.start()
    # down during the backoff after the failure
    cluster.wait("the backoff", lambda: cluster.phase(RMS, rm) == "Backoff", 60)
    op.kill()
    op.start()
    # down right after the retry succeeded, before it can act on it
    cluster.wait("job 2 to succeed", lambda: cluster.job_is(cluster.job(f"{rm_job}-2"), "Succeeded"), 60)
    op.kill()
    op.start()
    # down while the next stage runs
    cluster.wait("the alignment job", lambda: f"{align_job}-1" in launched(cluster), 60)
    op.kill()
    op.start()

    cluster.wait("the pipeline to finish", lambda: finished(cluster, ALPS, "crashy"), 120)
    status = cluster.get(ALPS, "crashy")["status"]
    assert status["phase"] == "Succeeded", status
    assert job_names(cluster) == [f"{align_job}-1", f"{rm_job}-1", f"{rm_job}-2"]
    assert sorted(launched(cluster)) == job_names(cluster)  # each job ran exactly once
    st = cluster.get(RMS, rm)["status"]
    assert st["phase"] == "Succeeded" and st["attempts"] == 2 and st["job"] == f"{rm_job}-2", st
    # the record survived the restarts: one Started per attempt, no flapping back to an older attempt
    events = cluster.events(rm)
    assert [m for r, m in events if r == "Started"] == [
        f"attempt 1: job {rm_job}-1",
        f"attempt 2: job {rm_job}-2",
    ], events
    # Events are best-effort: one recorded just after a status write dies with an operator killed there
    assert [r for r, _ in events].count("Succeeded") <= 1, events
    assert op.starts == 6


def test_deleting_a_pipeline_garbage_collects_its_stages_jobs_and_config_maps(
    cluster: Cluster, toy: Path
) -> None:
    cluster.create(ALPS, small_pipeline(cluster, toy, "doomed"))
    cluster.wait("the first job to run", lambda: "rmt-doomed-rm-helpfulness-1" in launched(cluster), 60)

    def config_maps() -> list[str]:
        return [m.metadata.name for m in cluster.core.list_namespaced_config_map(cluster.namespace).items]

    assert any(n.startswith("rmt-doomed-") for n in config_maps())
    cluster.delete(ALPS, "doomed")

    def collected() -> bool:
        return not (
            cluster.list(RMS)
            or cluster.jobs()
            or any(n.startswith("rmt-doomed-") for n in config_maps())
            or cluster.executor.jobs  # the executor stopped the deleted job's processes
        )

    # the garbage collector re-discovers new CRDs every 30 s: allow for one round
    cluster.wait("garbage collection", collected, 90)
    assert not cluster.list(ALPS) and not cluster.list(ALIGNS)


@pytest.mark.parametrize("job_backend", BOTH)
def test_a_suspended_pipeline_starts_nothing_and_suspends_running_jobs_until_resumed(
    cluster: Cluster, toy: Path
) -> None:
    doc = small_pipeline(cluster, toy, "nap")
    doc["spec"]["suspend"] = True
    rm = "nap-rm-helpfulness"
    rm_job = f"rmt-{rm}"
    cluster.create(ALPS, doc)
    cluster.wait("the suspended pipeline", lambda: cluster.phase(ALPS, "nap") == "Suspended", 30)
    assert not cluster.list(RMS) and not cluster.jobs()  # reconciled, and nothing started

    cluster.patch(ALPS, "nap", {"spec": {"suspend": False}})
    cluster.wait("the first job to run", lambda: f"{rm_job}-1" in launched(cluster), 60)
    cluster.patch(ALPS, "nap", {"spec": {"suspend": True}})
    cluster.wait(
        "the job to be suspended", lambda: cluster.job_is(cluster.job(f"{rm_job}-1"), "Suspended"), 30
    )
    assert cluster.job_suspended(cluster.job(f"{rm_job}-1"))
    assert cluster.get(RMS, rm)["spec"]["execution"]["suspend"] is True
    cluster.wait("the pipeline to say so", lambda: cluster.phase(ALPS, "nap") == "Suspended", 30)
    assert cluster.phase(RMS, rm) == "Suspended"
    assert cluster.executor.jobs[f"{cluster.namespace}/{rm_job}-1"].suspended  # its processes were stopped

    cluster.patch(ALPS, "nap", {"spec": {"suspend": False}})
    cluster.wait("the pipeline to finish", lambda: finished(cluster, ALPS, "nap"), 120)
    assert cluster.phase(ALPS, "nap") == "Succeeded"
    assert job_names(cluster) == ["pal-nap-align-1", f"{rm_job}-1"]
    assert launched(cluster) == [
        f"{rm_job}-1",
        f"{rm_job}-1",
        "pal-nap-align-1",
    ]  # the job ran again when resumed
    assert cluster.get(RMS, rm)["status"]["attempts"] == 1
