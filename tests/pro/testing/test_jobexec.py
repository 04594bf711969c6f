"""The test-side PyTorchJob executor behaves like the training operator, on a real API server."""

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


def submit(executor: JobExecutor, ns: str, body: dict[str, Any]) -> None:
    from kubernetes import client

    name = body["metadata"]["name"]
    client.CoreV1Api(executor.api_client).create_namespaced_config_map(
        ns,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"{name}-spec"), data={"stage.yaml": "kind: Demo\n"}
        ),
    )
    executor.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


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
