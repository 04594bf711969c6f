"""The test-side job executor behaves like Kubeflow on a real API server with Kubeflow's own CRDs: the
training operator for PyTorchJobs, Trainer v2.3 (with JobSet and the Job controller) for TrainJobs; and
its stand-in kubelet serves the processes' logs through ``pods/<pod>/log``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pro.testing.jobexec import GROUP, PLURAL, VERSION, JobExecutor

pytestmark = pytest.mark.integration


@pytest.fixture
def executor(kube_cluster, kube_namespace, tmp_path: Path) -> Iterator[JobExecutor]:
    _, ns = kube_namespace
    with JobExecutor(
        kube_cluster.kubeconfig, tmp_path / "jobs", namespace=ns, extra_env={"FROM_EXECUTOR": "yes"}
    ) as ex:
        yield ex


def job(
    name: str,
    script: str,
    *,
    workers: int = 0,
    restart: str = "Never",
    backoff: int = 0,
    suspend: bool = False,
) -> dict[str, Any]:
    container = {
        "name": "pytorch",
        "image": "pro-trainer:test",
        "command": [sys.executable, "-c", script],
        "env": [{"name": "SPEC", "value": "/etc/pro/stage.yaml"}],
        "volumeMounts": [{"name": "spec", "mountPath": "/etc/pro"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    template = {
        "spec": {
            "containers": [container],
            "volumes": [{"name": "spec", "configMap": {"name": f"{name}-spec"}}],
        }
    }
    specs = {"Master": {"replicas": 1, "restartPolicy": restart, "template": template}}
    if workers:
        specs["Worker"] = {"replicas": workers, "restartPolicy": restart, "template": template}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {
            "nprocPerNode": "2",
            "pytorchReplicaSpecs": specs,
            "runPolicy": {"backoffLimit": backoff, "suspend": suspend},
        },
    }


def submit(
    executor: JobExecutor,
    ns: str,
    body: dict[str, Any],
    *,
    api: tuple[str, str, str] = (GROUP, VERSION, PLURAL),
) -> None:
    """The job's spec ConfigMap, then the job (a PyTorchJob unless ``api`` says another kind)."""
    from kubernetes import client

    name = body["metadata"]["name"]
    client.CoreV1Api(executor.api_client).create_namespaced_config_map(
        ns,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"{name}-spec"), data={"stage.yaml": "kind: Demo\n"}
        ),
    )
    executor.custom.create_namespaced_custom_object(api[0], api[1], ns, api[2], body)


def wait_for(fn: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def condition(executor: JobExecutor, ns: str, name: str, ctype: str) -> dict[str, Any] | None:
    obj = executor.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    return next(
        (
            c
            for c in obj.get("status", {}).get("conditions", [])
            if c["type"] == ctype and c["status"] == "True"
        ),
        None,
    )


def test_success_with_torchrun_environment_and_mounted_spec(
    executor: JobExecutor, kube_namespace, tmp_path: Path
) -> None:
    _, ns = kube_namespace
    out = tmp_path / "ranks"
    out.mkdir()
    script = (
        "import os, pathlib, time; e = os.environ; "
        "assert pathlib.Path(e['SPEC']).read_text() == 'kind: Demo\\n', e['SPEC']; "
        "assert e['FROM_EXECUTOR'] == 'yes'; "
        f"out = pathlib.Path({str(out)!r}); "
        "keys = ('RANK', 'WORLD_SIZE', 'PET_NNODES', 'PET_NODE_RANK', 'PET_NPROC_PER_NODE', 'MASTER_ADDR', 'MASTER_PORT'); "
        "(out / e['RANK']).write_text(' '.join(e[k] for k in keys)); "
        "deadline = time.time() + 60\n"
        "while e['RANK'] == '0' and not (out / '1').exists() and time.time() < deadline: time.sleep(0.05)"
    )
    submit(executor, ns, job("ok", script, workers=1))
    wait_for(lambda: condition(executor, ns, "ok", "Succeeded"))
    obj = executor.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "ok")
    assert obj["status"]["replicaStatuses"]["Master"]["succeeded"] == 1
    assert obj["status"]["startTime"] and obj["status"]["completionTime"]
    types = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert types == {"Created": "True", "Running": "False", "Succeeded": "True"}
    lines = [(out / r).read_text().split() for r in ("0", "1")]
    assert [line[:6] for line in lines] == [
        ["0", "2", "2", "0", "2", "127.0.0.1"],
        ["1", "2", "2", "1", "2", "127.0.0.1"],
    ]
    assert lines[0][6] == lines[1][6]  # one MASTER_PORT for the whole job


def test_failure_reports_the_log_tail_on_the_pod(executor: JobExecutor, kube_namespace) -> None:
    core, ns = kube_namespace
    submit(executor, ns, job("bad", "import sys; print('loading'); sys.exit('CUDA out of memory')"))
    cond = wait_for(lambda: condition(executor, ns, "bad", "Failed"))
    assert "Master replica(s) failed" in cond["message"]
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("bad-master-0", ns)).status.container_statuses and p
    )
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 1 and "CUDA out of memory" in term.message and pod.status.phase == "Failed"
    assert pod.metadata.labels["training.kubeflow.org/job-name"] == "bad"
    # and its log, as kubectl logs reads it (through the API server and the node's kubelet)
    log = core.read_namespaced_pod_log("bad-master-0", ns, container="pytorch", tail_lines=1)
    assert log.strip() == "CUDA out of memory"


def test_on_failure_restarts_up_to_the_backoff_limit(
    executor: JobExecutor, kube_namespace, tmp_path: Path
) -> None:
    _, ns = kube_namespace
    marker = tmp_path / "attempts"
    script = f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1)); sys.exit(0 if n >= 1 else 3)"
    submit(executor, ns, job("flaky", script, restart="OnFailure", backoff=2))
    wait_for(lambda: condition(executor, ns, "flaky", "Succeeded"))
    assert marker.read_text() == "xx" and executor.launched.count(f"{ns}/flaky") == 2


def test_suspend_and_delete_stop_the_processes(executor: JobExecutor, kube_namespace) -> None:
    _, ns = kube_namespace
    submit(executor, ns, job("slow", "import time; time.sleep(120)"))
    wait_for(lambda: condition(executor, ns, "slow", "Running"))
    proc = executor.jobs[f"{ns}/slow"].replicas[0].process
    executor.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "slow", {"spec": {"runPolicy": {"suspend": True}}}
    )
    wait_for(lambda: condition(executor, ns, "slow", "Suspended"))
    assert proc is not None and proc.poll() is not None
    executor.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "slow", {"spec": {"runPolicy": {"suspend": False}}}
    )
    wait_for(lambda: condition(executor, ns, "slow", "Running"))
    proc = executor.jobs[f"{ns}/slow"].replicas[0].process
    executor.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "slow")
    wait_for(lambda: proc is not None and proc.poll() is not None)


# ------------------------------------------------------------------------------------------ TrainJob
TRAINER = ("trainer.kubeflow.org", "v1alpha1")


def trainjob(
    name: str, script: str, *, nodes: int = 1, runtime: str = "pro-torch", suspend: bool = False, **spec: Any
) -> dict[str, Any]:
    """A TrainJob as the operator writes one: the spec ConfigMap mounted through runtimePatches."""
    pod_spec = {
        "volumes": [{"name": "spec", "configMap": {"name": f"{name}-spec"}}],
        "containers": [{"name": "node", "volumeMounts": [{"name": "spec", "mountPath": "/etc/pro"}]}],
    }
    patch = {"template": {"spec": {"replicatedJobs": [
        {"name": "node", "template": {"spec": {"template": {"metadata": {"labels": {"team": "a"}}, "spec": pod_spec}}}}
    ]}}}  # fmt: skip
    return {
        "apiVersion": "/".join(TRAINER),
        "kind": "TrainJob",
        "metadata": {"name": name},
        "spec": {
            "runtimeRef": {"name": runtime, "kind": "ClusterTrainingRuntime", "apiGroup": TRAINER[0]},
            "trainer": {
                "image": "pro-trainer:test",
                "command": [sys.executable, "-c", script],
                "env": [{"name": "SPEC", "value": "/etc/pro/stage.yaml"}],
                "numNodes": nodes,
                "numProcPerNode": 2,
            },
            "runtimePatches": [{"manager": "pro.alignment.dev/operator", "trainingRuntimeSpec": patch}],
            "suspend": suspend,
            **spec,
        },
    }


def submit_trainjob(executor: JobExecutor, ns: str, body: dict[str, Any]) -> None:
    submit(executor, ns, body, api=(*TRAINER, "trainjobs"))


def trainjob_status(executor: JobExecutor, ns: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = executor.custom.get_namespaced_custom_object(*TRAINER, ns, "trainjobs", name)
    return found.get("status") or {}


def tj_condition(
    executor: JobExecutor, ns: str, name: str, ctype: str, value: str = "True"
) -> dict[str, Any] | None:
    conds = trainjob_status(executor, ns, name).get("conditions") or []
    return next((c for c in conds if c["type"] == ctype and c["status"] == value), None)


def pods_of(core: Any, ns: str, name: str) -> list[Any]:
    return sorted(
        core.list_namespaced_pod(ns, label_selector=f"jobset.sigs.k8s.io/jobset-name={name}").items,
        key=lambda p: p.metadata.name,
    )


def test_a_trainjob_runs_its_nodes_with_the_torch_plugins_environment(
    executor: JobExecutor, kube_namespace, tmp_path: Path
) -> None:
    core, ns = kube_namespace
    out = tmp_path / "ranks"
    out.mkdir()
    script = (
        "import os, pathlib, time; e = os.environ; "
        "assert pathlib.Path(e['SPEC']).read_text() == 'kind: Demo\\n', e['SPEC']; "
        f"out = pathlib.Path({str(out)!r}); "
        "keys = ('PET_NODE_RANK', 'PET_NNODES', 'PET_NPROC_PER_NODE', 'PET_MASTER_ADDR', 'PET_MASTER_PORT'); "
        "(out / e['PET_NODE_RANK']).write_text(' '.join(e[k] for k in keys) + ' ' + str('RANK' in e)); "
        "deadline = time.time() + 60\n"
        "while e['PET_NODE_RANK'] == '0' and not (out / '1').exists() and time.time() < deadline: time.sleep(0.05)"
    )
    submit_trainjob(executor, ns, trainjob("tj", script, nodes=2, runtime="torch-distributed"))
    wait_for(lambda: tj_condition(executor, ns, "tj", "Complete"))
    status = trainjob_status(executor, ns, "tj")
    assert {c["type"] for c in status["conditions"]} == {"Complete"}  # Trainer has no Running condition
    assert status["conditions"][0]["reason"] == "AllJobsCompleted"
    assert status["jobsStatus"] == [
        {"name": "node", "ready": 0, "succeeded": 1, "failed": 0, "active": 0, "suspended": 0}
    ]
    lines = [(out / r).read_text().split() for r in ("0", "1")]
    assert [line[:4] for line in lines] == [["0", "2", "2", "127.0.0.1"], ["1", "2", "2", "127.0.0.1"]]
    assert lines[0][4] == lines[1][4] and lines[0][5] == "False"  # one master port; torchrun sets RANK
    pods = pods_of(core, ns, "tj")
    assert [p.metadata.name.rsplit("-", 1)[0] for p in pods] == ["tj-node-0-0", "tj-node-0-1"]
    labels = pods[1].metadata.labels
    assert labels["jobset.sigs.k8s.io/replicatedjob-name"] == "node" and labels["team"] == "a"
    assert labels["batch.kubernetes.io/job-completion-index"] == "1"
    assert labels["trainer.kubeflow.org/trainjob-ancestor-step"] == "trainer"  # the runtime's


def test_a_failed_trainjob_says_why_and_its_pod_keeps_the_log(executor: JobExecutor, kube_namespace) -> None:
    core, ns = kube_namespace
    submit_trainjob(
        executor, ns, trainjob("bad", "import sys; print('loading'); sys.exit('CUDA out of memory')")
    )
    cond = wait_for(lambda: tj_condition(executor, ns, "bad", "Failed"))
    assert (
        cond["reason"] == "FailedJobs"
        and trainjob_status(executor, ns, "bad")["jobsStatus"][0]["failed"] == 1
    )
    (pod,) = pods_of(core, ns, "bad")
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 1 and not term.message  # the runtime's container keeps no log in its status
    assert pod.status.container_statuses[0].name == "node"
    log = core.read_namespaced_pod_log(pod.metadata.name, ns, container="node", tail_lines=2)
    assert log.splitlines() == ["loading", "CUDA out of memory"]
    assert executor.launched.count(f"{ns}/bad") == 1  # pro-torch: backoffLimit 0, restartPolicy Never


def test_torch_distributed_restarts_a_failed_node_in_place(
    executor: JobExecutor, kube_namespace, tmp_path: Path
) -> None:
    core, ns = kube_namespace
    marker = tmp_path / "attempts"
    script = f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1)); sys.exit(0 if n >= 1 else 3)"
    submit_trainjob(executor, ns, trainjob("flaky", script, runtime="torch-distributed"))
    wait_for(lambda: tj_condition(executor, ns, "flaky", "Complete"))
    (pod,) = pods_of(core, ns, "flaky")
    assert marker.read_text() == "xx" and pod.status.container_statuses[0].restart_count == 1


def test_a_trainjob_is_suspended_resumed_and_held_to_its_deadline(
    executor: JobExecutor, kube_namespace
) -> None:
    _, ns = kube_namespace
    submit_trainjob(executor, ns, trainjob("slow", "import time; time.sleep(120)", activeDeadlineSeconds=6))
    wait_for(lambda: trainjob_status(executor, ns, "slow").get("jobsStatus", [{}])[0].get("ready") == 1)
    proc = executor.jobs[f"{ns}/slow"].replicas[0].process
    executor.custom.patch_namespaced_custom_object(
        *TRAINER, ns, "trainjobs", "slow", {"spec": {"suspend": True}}
    )
    cond = wait_for(lambda: tj_condition(executor, ns, "slow", "Suspended"))
    assert cond["reason"] == "Suspended" and proc is not None and proc.poll() is not None
    executor.custom.patch_namespaced_custom_object(
        *TRAINER, ns, "trainjobs", "slow", {"spec": {"suspend": False}}
    )
    cond = wait_for(lambda: tj_condition(executor, ns, "slow", "Suspended", "False"))
    assert cond["reason"] == "Resumed"
    cond = wait_for(lambda: tj_condition(executor, ns, "slow", "Failed"), timeout=30)
    assert cond["reason"] == "DeadlineExceeded"


def test_a_trainjob_naming_no_runtime_runs_nothing(executor: JobExecutor, kube_namespace) -> None:
    _, ns = kube_namespace
    submit_trainjob(executor, ns, trainjob("lost", "print('never')", runtime="no-such-runtime"))
    wait_for(lambda: f"{ns}/lost" in executor.jobs)
    time.sleep(1)
    assert executor.launched == [] and trainjob_status(executor, ns, "lost") == {}
