"""Run the real operator process against a test API server: install the CRDs, start, kill, restart.

The operator runs as its own process (``python -m pro_operator``) exactly as in its container; this
module never imports it (the ML library does not reach into the operator).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pro.render.crds import crd
from pro.spec.conventions import API_GROUP as GROUP
from pro.spec.conventions import API_VERSION as VERSION
from pro.spec.conventions import (
    JOBSET_NAME_LABEL,
    KUBEFLOW_GROUP,
    KUBEFLOW_VERSION,
    PYTORCHJOB_KIND,
    PYTORCHJOB_POD_LABEL,
    PYTORCHJOBS,
    TRAINER_GROUP,
    TRAINER_VERSION,
    TRAINJOBS,
)
from pro.spec.kinds import all_kinds
from pro.testing.jobexec import JobExecutor
from pro.testing.kubeflow import install_crd

Objs = list[dict[str, Any]]
Events = list[tuple[str, str]]


def install_crds(api_client: Any, *, cel: bool = False) -> None:
    """Install every CRD of ours (:func:`~pro.testing.kubeflow.install_crd`, replaced when its body
    changed, else left as it is: every operator test installs them) and wait until each is served; CEL
    rules are stripped unless ``cel`` (Kubernetes < 1.25 rejects them)."""
    for kind in all_kinds():
        install_crd(api_client, crd(kind), replace=True, cel=cel)


def lease_holder(api_client: Any, namespace: str, name: str) -> str:
    """The replica holding Lease ``namespace/name`` (its identity up to the first ``_``; "" when the
    Lease does not exist yet or names nobody); any other API error is raised."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    try:
        lease = client.CoordinationV1Api(api_client).read_namespaced_lease(name, namespace)
    except ApiException as err:
        if err.status == 404:
            return ""
        raise
    return str(lease.spec.holder_identity or "").split("_", 1)[0]


class OperatorProcess:
    """``python -m pro_operator`` watching one namespace; output goes to ``log``."""

    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        python: str = sys.executable,
    ) -> None:
        self.kubeconfig, self.namespace, self.log = kubeconfig, namespace, log
        self.env = dict(env or {})
        self.args = args
        self.python = python
        """The interpreter (e.g. a slim environment's, the operator image's requirement set)."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> OperatorProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("ab") as fh:
            fh.write(f"==== operator start {self.starts}\n".encode())
            fh.flush()
            self.proc = subprocess.Popen(
                [self.python, "-m", "pro_operator", "--kubeconfig", self.kubeconfig, "-n", self.namespace,
                 "--metrics-port", "0", "--health-port", "0", "--log-format", "plain", *self.args],
                stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, start_new_session=True,
            )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL: the crash case (no cleanup of any kind)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: how each job backend's jobs read in a test: where they live, what their conditions are called
JOB_KINDS: dict[str, dict[str, Any]] = {
    "PyTorchJob": {
        "api": (KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS),
        "conditions": {"Succeeded": "Succeeded", "Failed": "Failed", "Suspended": "Suspended"},
        "suspend": lambda job: job["spec"]["runPolicy"]["suspend"],
        "pods": PYTORCHJOB_POD_LABEL,
        "pod": lambda job, node: f"{job}-{'master-0' if node == 0 else f'worker-{node - 1}'}",
    },
    "TrainJob": {
        "api": (TRAINER_GROUP, TRAINER_VERSION, TRAINJOBS),
        "conditions": {"Succeeded": "Complete", "Failed": "Failed", "Suspended": "Suspended"},
        "suspend": lambda job: job["spec"]["suspend"],
        "pods": JOBSET_NAME_LABEL,
        "pod": lambda job, node: f"{job}-node-0-{node}-[0-9a-f]{{5}}",
    },
}


@dataclass
class Cluster:
    """One test namespace with the operator, the job executor and the S3 bucket around it; the operator
    runs stages as ``backend`` jobs."""

    kubeconfig: str
    namespace: str
    custom: Any
    core: Any
    operator: OperatorProcess
    executor: JobExecutor
    bucket: str
    workdir: Path
    backend: str = PYTORCHJOB_KIND

    def create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, body
        )
        return obj

    def get(self, plural: str, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name
        )
        return obj

    def patch(self, plural: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch (e.g. ``{"spec": {"suspend": True}}``)."""
        obj: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name, patch
        )
        return obj

    def touch(self, plural: str, name: str) -> None:
        """Change an annotation: an event that makes the operator reconcile the object now."""
        self.patch(
            plural, name, {"metadata": {"annotations": {"test.pro.alignment.dev/touched": str(time.time())}}}
        )

    def delete(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def exists(self, plural: str, name: str) -> bool:
        return any(o["metadata"]["name"] == name for o in self.list(plural))

    def list(self, plural: str, group: str = GROUP, version: str = VERSION) -> Objs:
        found = self.custom.list_namespaced_custom_object(group, version, self.namespace, plural)
        return list(found["items"])

    def jobs(self) -> Objs:
        """The jobs of the operator's backend."""
        group, version, plural = JOB_KINDS[self.backend]["api"]
        return self.list(plural, group, version)

    def job(self, name: str) -> dict[str, Any]:
        """Job ``name`` ({} when there is none)."""
        return next((j for j in self.jobs() if j["metadata"]["name"] == name), {})

    def job_is(self, job: dict[str, Any], state: str) -> bool:
        """Whether a job's condition for ``state`` (Succeeded, Failed, Suspended) is True, as its kind
        names it (a TrainJob's success is ``Complete``)."""
        ctype = JOB_KINDS[self.backend]["conditions"][state]
        conditions = (job.get("status") or {}).get("conditions") or []
        return any(c["type"] == ctype and c["status"] == "True" for c in conditions)

    def job_suspended(self, job: dict[str, Any]) -> bool:
        """Whether a job's spec suspends it."""
        return bool(JOB_KINDS[self.backend]["suspend"](job))

    def pod_pattern(self, job: str, node: int = 0) -> str:
        """A regular expression for the name of a job's pod (node 0: the master, or rank 0)."""
        pattern: str = JOB_KINDS[self.backend]["pod"](re.escape(job), node)
        return pattern

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 300.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail with the operator's log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got
            time.sleep(0.25)
        log = self.operator.log.read_text()[-4000:] if self.operator.log.exists() else ""
        raise AssertionError(f"timed out waiting for {what}\n--- operator log tail ---\n{log}")

    def phase(self, plural: str, name: str) -> str | None:
        phase: str | None = (self.get(plural, name).get("status") or {}).get("phase")
        return phase

    def events(self, name: str, *, warnings: bool = False) -> Events:
        """``(reason, message)`` of the Events on ``name``, oldest first (only Warnings with ``warnings``)."""
        found = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        items = sorted(found.items, key=lambda e: int(e.metadata.resource_version))  # creation order
        return [(e.reason, e.message) for e in items if not warnings or e.type == "Warning"]

    def events_until(self, name: str, reason: str, *, warnings: bool = False, timeout: float = 30) -> Events:
        """:meth:`events` once one has ``reason`` (the operator posts Events off its reconcile path, a
        moment after the status that goes with them)."""
        found: Events = self.wait(
            f"a {reason} Event on {name}",
            lambda: (got := self.events(name, warnings=warnings)) and reason in dict(got) and got,
            timeout,
        )
        return found


@contextmanager
def operated(
    kubeconfig: str,
    namespace: str,
    *,
    api: Any,
    core: Any,
    bucket: str,
    workdir: Path,
    s3_env: Mapping[str, str],
    operator_kubeconfig: str | None = None,
    operator_env: Mapping[str, str] | None = None,
    backend: str = PYTORCHJOB_KIND,
    operator_args: tuple[str, ...] = (),
    pytorchjob_crd: bool = True,
) -> Iterator[Cluster]:
    """A namespace with the job executor (admin credentials: it stands in for Kubeflow; without the
    PyTorchJob CRD unless ``pytorchjob_crd``) and the operator (``operator_kubeconfig``, default the admin
    one; its stages as ``backend`` jobs, ``operator_args`` added, a later ``--job-backend`` among them
    winning) running; both stopped afterwards."""
    from kubernetes import client

    executor = JobExecutor(
        kubeconfig, workdir / "jobs", namespace=namespace, extra_env=s3_env, pytorchjob_crd=pytorchjob_crd
    ).start()
    operator = OperatorProcess(
        operator_kubeconfig or kubeconfig,
        namespace,
        workdir / "operator.log",
        env={**s3_env, **(operator_env or {})},
        args=("--job-backend", backend, *operator_args),
    ).start()
    try:
        yield Cluster(
            kubeconfig, namespace, client.CustomObjectsApi(api), core, operator, executor, bucket, workdir,
            backend,
        )  # fmt: skip
    finally:
        operator.stop()
        executor.stop()
