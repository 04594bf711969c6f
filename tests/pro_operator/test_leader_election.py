"""Two operator replicas on one API server, electing a leader on a Lease: the standby writes nothing;
the leader killed (SIGKILL) while a stage's job runs is replaced once its lease lapses, the new leader
stopped (SIGTERM) hands over at once; the stage finishes with its job created once, every transition
and every Event recorded once; a leader that finds its Lease taken exits at once, non-zero.

Shorter timings than the defaults keep the test short (the takeover times at the defaults are
measured by ``bench/takeover.py``)."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pro.render.jobs import job_name
from pro.testing.operator import Cluster, OperatorProcess, lease_holder
from pro.testing.s3server import free_port
from tests.pro_operator.conftest import finished, job_names, launched, reward_model_stage, small_pipeline

pytestmark = pytest.mark.integration

ALPS, RMS = "alignmentpipelines", "rewardmodeltrainings"
LEASE = "pro-operator-leader"
LEASE_S, RENEW_S, RETRY_S = 6, 4, 1
METRICS = {"op-a": free_port(), "op-b": free_port()}
HEALTH = {"op-a": free_port(), "op-b": free_port()}

#: an image whose stage waits until the test opens its gate (a file named after the stage resource)
GATED = """\
import os, sys, time
import yaml
from pro.spec.kinds import kind_named
gates = bytes.fromhex(sys.argv[1]).decode()  # spelled so that the executor does not map its /tmp
spec = yaml.safe_load(open("/etc/pro/stage.yaml"))
while not os.path.exists(os.path.join(gates, spec["metadata"]["name"])):
    time.sleep(0.1)
verb = kind_named(spec["kind"]).verb
os.execvp("torchrun", ["torchrun", "--standalone", "--nproc-per-node=1", "-m", "pro", "stage", verb,
                       "-f", "/etc/pro/stage.yaml"])
"""


@pytest.fixture
def operator_env(kube_namespace: Any) -> dict[str, str]:
    """The Lease lives in the test namespace (the chart sets POD_NAMESPACE to the release's)."""
    return {"POD_NAMESPACE": kube_namespace[1], "POD_NAME": "op-a"}


@pytest.fixture
def operator_args() -> tuple[str, ...]:
    return (
        "--leader-elect",
        f"--leader-elect-lease-duration={LEASE_S}",
        f"--leader-elect-renew-deadline={RENEW_S}",
        f"--leader-elect-retry-period={RETRY_S}",
        f"--metrics-port={METRICS['op-a']}",
        f"--health-port={HEALTH['op-a']}",
    )


@pytest.fixture
def replicas(cluster: Cluster) -> Iterator[dict[str, OperatorProcess]]:
    """op-a (the cluster's operator) and op-b, the same but for its name and metrics port."""
    a = cluster.operator
    b = OperatorProcess(
        cluster.kubeconfig,
        cluster.namespace,
        cluster.workdir / "operator-b.log",
        env={**a.env, "POD_NAME": "op-b"},
        args=(*a.args, f"--metrics-port={METRICS['op-b']}", f"--health-port={HEALTH['op-b']}"),
    ).start()
    try:
        yield {"op-a": a, "op-b": b}
    finally:
        b.stop()


def lease(cluster: Cluster) -> dict[str, Any]:
    from kubernetes import client

    found = client.CoordinationV1Api(cluster.core.api_client).read_namespaced_lease(LEASE, cluster.namespace)
    return dict(found.spec.to_dict())


def holder(cluster: Cluster) -> str:
    """The name of the replica holding the Lease ("" when none does)."""
    return lease_holder(cluster.core.api_client, cluster.namespace, LEASE)


def scrape(name: str) -> dict[str, Any]:
    """A replica's ``pro_operator_leader`` and its API writes other than the Lease's, by verb/resource."""
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS[name]}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, Any] = {"leader": None, "writes": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pro_operator_leader":
                out["leader"] = sample.value
            if sample.name == "pro_operator_api_requests_total" and sample.value:
                verb, resource = sample.labels["verb"], sample.labels["resource"]
                if verb not in ("get", "list", "watch") and not resource.startswith("leases."):
                    out["writes"][f"{verb} {resource}"] = sample.value
    return out


def health(name: str) -> tuple[int, dict[str, Any]]:
    """A replica's ``/healthz``: its status and what its probes say."""
    with urllib.request.urlopen(f"http://127.0.0.1:{HEALTH[name]}/healthz", timeout=5) as response:
        return response.status, json.loads(response.read())


def standing_by(op: OperatorProcess, name: str) -> bool:
    """Started (since its last start) and standing by."""
    if "standing by" not in op.log.read_text().rpartition("==== operator start")[2]:
        return False
    try:
        return bool(scrape(name)["leader"] == 0)
    except OSError:  # not serving yet
        return False


def parked(cluster: Cluster, toy: Path, name: str) -> float:
    """Create a suspended pipeline; once a leader has reconciled it (its phase says Suspended, nothing
    started), how long that took."""
    doc = small_pipeline(cluster, toy, name)
    doc["spec"]["suspend"] = True
    created = time.monotonic()
    cluster.create(ALPS, doc)
    cluster.wait(f"a leader to reconcile {name}", lambda: cluster.phase(ALPS, name) == "Suspended", 60)
    return time.monotonic() - created


def test_the_standby_takes_over_a_killed_then_a_stopped_leader_and_nothing_happens_twice(
    cluster: Cluster, toy: Path, replicas: dict[str, OperatorProcess]
) -> None:
    gates = cluster.workdir / "gates"
    gates.mkdir()
    image = "registry.invalid/pro-trainer:gated"
    cluster.executor.images[image] = [sys.executable, "-c", GATED, bytes(str(gates), "utf-8").hex()]
    rm = "ha-rm"
    job = job_name("RewardModelTraining", rm, 1)

    first = cluster.wait("a leader", lambda: holder(cluster), 60)
    second = "op-b" if first == "op-a" else "op-a"
    cluster.wait(f"{second} standing by", lambda: standing_by(replicas[second], second), 30)
    cluster.create(RMS, reward_model_stage(cluster, toy, rm, execution={"image": image}))
    cluster.wait("the stage's job", lambda: job in launched(cluster), 60)
    cluster.events_until(rm, "Started")  # the leader's Events are posted: nothing is in flight
    assert scrape(second) == {"leader": 0, "writes": {}}  # the standby wrote nothing at all
    assert scrape(first)["leader"] == 1 and scrape(first)["writes"]
    assert health(second) == (200, {"leader": False}) and health(first) == (
        200,
        {"leader": True},
    )  # both ready

    # the leader is killed while the job runs (it waits at its gate): the standby leads once the lease
    # has lapsed, and reconciles what was created meanwhile
    killed = time.monotonic()
    replicas[first].kill()
    parked(cluster, toy, "parked-1")
    took_over = time.monotonic() - killed
    assert holder(cluster) == second and scrape(second)["leader"] == 1

    # the new leader is stopped gracefully while the job still runs: it releases the lease, and the
    # restarted replica (a standby now) leads at its next retry
    replicas[first].start()
    cluster.wait(f"{first} standing by again", lambda: standing_by(replicas[first], first), 60)
    stopped = time.monotonic()
    replicas[second].stop()
    assert replicas[second].proc is not None and replicas[second].proc.returncode == 0
    assert holder(cluster) in ("", first)  # released before it exited
    parked(cluster, toy, "parked-2")
    handed_over = time.monotonic() - stopped
    assert holder(cluster) == first and lease(cluster)["lease_transitions"] == 2  # one, the other, back
    print(f"kill → first reconcile: {took_over:.1f} s; SIGTERM → first reconcile: {handed_over:.1f} s")

    # the job ends under the third leadership: the stage completes once, with one record of each step
    (gates / rm).touch()
    cluster.wait("the stage to finish", lambda: finished(cluster, RMS, rm), 120)
    st = cluster.get(RMS, rm)["status"]
    assert (st["phase"], st["attempts"], st["job"], st.get("failed", 0)) == ("Succeeded", 1, job, 0), st
    assert job_names(cluster) == [job] and launched(cluster) == [job]
    assert [r for r, _ in cluster.events_until(rm, "Succeeded")] == ["Started", "Succeeded"]
    assert not cluster.list("policyalignments")  # the parked pipelines started nothing
    ours = [
        (e.involved_object.name, e.reason, e.message, e.count)
        for e in cluster.core.list_namespaced_event(cluster.namespace).items
        if e.source.component == "pro-operator"
    ]
    assert len(ours) == len(set(ours)) and {count for *_, count in ours} == {1}, ours

    # a leader that finds the Lease taken stops at once and exits non-zero (a restart makes it a standby)
    from kubernetes import client

    coordination = client.CoordinationV1Api(cluster.core.api_client)
    coordination.patch_namespaced_lease(
        LEASE,
        cluster.namespace,
        {"spec": {"holderIdentity": "intruder_000000", "leaseDurationSeconds": 3600}},
    )
    leader = replicas[first]
    assert leader.proc is not None
    assert leader.proc.wait(RENEW_S + 10) == 1
    assert "stopped leading (the lease is held by intruder_000000 now): exiting" in leader.log.read_text()


def test_candidates_racing_on_the_real_api_server_never_both_win(
    kubeconfig: dict[str, Any], kube_namespace: Any
) -> None:
    """Four candidates decide together (each has read the same Lease) and write at once: the API server's
    resourceVersion check lets exactly one through, for the first Lease (create) and for a released one
    (update)."""
    from pro_operator.handlers import client
    from pro_operator.leader import Elector, Memory, Timing

    namespace = kube_namespace[1]
    kube = client(in_cluster=False)
    electors = [Elector(kube, namespace, LEASE, f"c{i}_000000", Timing()) for i in range(4)]

    def together(memories: list[Memory]) -> list[Memory]:
        start = threading.Barrier(len(electors))

        def one(i: int) -> Memory:
            start.wait()
            return electors[i].tick(memories[i])

        with ThreadPoolExecutor(len(electors)) as pool:
            return list(pool.map(one, range(len(electors))))

    won = together([Memory()] * len(electors))
    assert sum(m.leading for m in won) == 1
    winner = electors[[m.leading for m in won].index(True)]
    winner.memory = won[[m.leading for m in won].index(True)]
    assert winner.release()
    released = winner.kube.get_lease(namespace, LEASE) or {}
    assert released["spec"]["holderIdentity"] == "" and released["spec"]["leaseDurationSeconds"] == 1
    won = together([Memory()] * len(electors))
    assert sum(m.leading for m in won) == 1
    spec = (kube.get_lease(namespace, LEASE) or {})["spec"]
    assert spec["holderIdentity"] == electors[[m.leading for m in won].index(True)].identity
    assert spec["leaseTransitions"] == 1
