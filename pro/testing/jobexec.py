"""A test-side stand-in for Kubeflow: runs PyTorchJobs and TrainJobs as local processes.

There is no kubelet on the test API server, so nothing runs a Pod.  :class:`JobExecutor` watches both
kinds of job, runs each node's container command as a local process with the environment Kubeflow
injects, and reports back through the API as the real controllers would:

- **PyTorchJob** (``kubeflow.org/v1``, the training operator): each replica's ``pytorch`` container with
  MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, PET_NNODES, PET_NODE_RANK, PET_NPROC_PER_NODE,
  PYTHONUNBUFFERED; ``status`` conditions Created / Running / Restarting / Succeeded / Failed / Suspended,
  ``replicaStatuses``, ``startTime``, ``completionTime``; pods ``<job>-master-0``, ``<job>-worker-N``
  labelled like the training operator's.  ``restartPolicy: OnFailure`` restarts the job up to
  ``runPolicy.backoffLimit`` times.
- **TrainJob** (``trainer.kubeflow.org/v1alpha1``; Trainer's controller, JobSet's and the Job controller
  in one): the runtime it names (ClusterTrainingRuntime or TrainingRuntime, read from the API) gives the
  trainer job ``node``'s pod template; the TrainJob's ``runtimePatches`` are merged into it as Trainer
  v2.3 merges them (lists of named items by name), then its ``trainer`` image, command, args, env and
  ``resourcesPerNode`` go into the ``node`` container.  ``numNodes`` processes run with what Trainer's
  torch plugin injects: PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT.
  Pods ``<job>-node-0-<i>-<suffix>`` carry JobSet's labels (``jobset.sigs.k8s.io/jobset-name`` …).  A failed
  node is restarted as the runtime's Job says: ``restartPolicy`` (JobSet's default OnFailure: in place)
  up to the Job's ``backoffLimit`` (default 6), then the TrainJob fails.  ``status``: conditions
  Suspended (reasons Suspended / Resumed), Complete, Failed (DeadlineExceeded after
  ``activeDeadlineSeconds``) — no Running condition — and ``jobsStatus`` of the child job ``node``.  A
  runtime that does not exist starts nothing (Trainer's webhook would have refused the job).

Every pod is bound to the executor's node, whose stand-in kubelet (:mod:`pro.testing.kubelet`) serves the
processes' logs to ``GET pods/<pod>/log``; a pod's status carries its container's exit code and, when the
container says ``terminationMessagePolicy: FallbackToLogsOnError``, its last 80 log lines.

ConfigMap, Secret and emptyDir volumes are local directories per pod, and their mount paths are rewritten
in the command, args and env values; ``secretKeyRef``/``configMapKeyRef`` env values are read from the API.
Suspending a job stops its processes; deleting it stops them too.

Fault injection, by container image (``JobExecutor.images``, read at each launch): an image mapped to
an argv runs that argv instead of the container's command (an image whose ``torchrun`` does something
else, e.g. exits 0 without training; mount paths in it are rewritten as the command's are); an image
mapped to None cannot be pulled: its pods wait in ``ImagePullBackOff`` and the job does not run, as on a
cluster whose registry refuses the image.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pro.spec.conventions import (
    CLUSTER_TRAINING_RUNTIME,
    CLUSTER_TRAINING_RUNTIMES,
    JOB_COMPLETION_INDEX_LABEL,
    JOBSET_NAME_LABEL,
    JOBSET_REPLICATED_JOB_LABEL,
    PYTORCHJOB_POD_LABEL,
    TRAINER_GROUP,
    TRAINER_NODE,
    TRAINER_VERSION,
    TRAINING_RUNTIMES,
    TRAINJOBS,
    rfc3339,
)
from pro.spec.conventions import KUBEFLOW_GROUP as GROUP
from pro.spec.conventions import KUBEFLOW_VERSION as VERSION
from pro.spec.conventions import PYTORCHJOBS as PLURAL
from pro.testing.kubeflow import install_kubeflow
from pro.testing.kubelet import LogServer
from pro.testing.s3server import free_port

Obj = dict[str, Any]
LOG_TAIL_LINES = 80
#: what a pod's container and the Job around it default to when a TrainJob's runtime leaves them unset
#: (JobSet's webhook defaults restartPolicy; batch/v1 defaults backoffLimit)
TRAINJOB_RESTART_POLICY = "OnFailure"
TRAINJOB_BACKOFF_LIMIT = 6
#: lists of named items a strategic merge patch merges by name (others are replaced)
NAMED_LISTS = frozenset({"containers", "initContainers", "volumes", "env", "volumeMounts", "imagePullSecrets",
                         "replicatedJobs", "ports"})  # fmt: skip


def now_iso() -> str:
    return rfc3339(datetime.now(UTC))


@dataclass
class Replica:
    """One node of a job: its process, pod and log."""

    rtype: str
    """``Master``/``Worker`` (PyTorchJob) or ``node`` (TrainJob)."""
    index: int
    rank: int
    pod: str
    container: Obj
    pod_spec: Obj
    labels: dict[str, str]
    injected: dict[str, str]
    """The environment the controller injects."""
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    restarts: int = 0


@dataclass
class Job:
    kind: str
    namespace: str
    name: str
    uid: str
    body: Obj
    replicas: list[Replica] = field(default_factory=list)
    restarts: int = 0
    finished: bool = False
    suspended: bool = False
    pulling: bool = False
    """Its pods wait for an image that cannot be pulled (nothing runs)."""
    started: float | None = None
    """When its processes last started (time.time), for ``activeDeadlineSeconds``."""


class JobExecutor:
    """Runs the PyTorchJobs and TrainJobs of ``namespace`` (all namespaces when None) as local processes.

    ``extra_env`` is added to every process (e.g. the S3 endpoint a real pod would get from the
    cluster).  Logs go to ``workdir/<namespace>/<job>/<pod>.log``.
    """

    def __init__(
        self,
        kubeconfig: str,
        workdir: Path,
        *,
        namespace: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        pytorchjob_crd: bool = True,
    ) -> None:
        from kubernetes import client, config

        self.api_client = config.new_client_from_config(config_file=kubeconfig)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        self.workdir = workdir
        self.namespace = namespace
        self.extra_env = dict(extra_env or {})
        self.pytorchjob_crd = pytorchjob_crd
        """Install the PyTorchJob CRD (False: a cluster with Kubeflow Trainer only)."""
        self.jobs: dict[str, Job] = {}
        self.launched: list[str] = []
        """``namespace/name`` of every launch, restarts included (tests count duplicates with it)."""
        self.images: dict[str, list[str] | None] = {}
        """Fault injection by container image (see the module docstring): an argv that replaces the
        container's command, or None for an image that cannot be pulled."""
        self.kinds: dict[str, _Kind] = {PLURAL: _PyTorchJobs(self), TRAINJOBS: _TrainJobs(self)}
        self.kubelet = LogServer(self.core, self._log_of)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> JobExecutor:
        install_kubeflow(self.api_client, pytorchjob=self.pytorchjob_crd)
        self.kubelet.start()
        targets: list[Callable[[], None]] = [lambda p=p: self._watch_loop(p) for p in self.kinds]  # type: ignore[misc]
        for target in [*targets, self._monitor_loop]:
            t = threading.Thread(target=target, daemon=True, name="jobexec")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for job in self.jobs.values():
                self._kill(job)
        for t in self._threads:
            t.join(timeout=2)
        self.kubelet.stop()
        self.api_client.close()

    def __enter__(self) -> JobExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ watching
    def _watch_loop(self, plural: str) -> None:
        from kubernetes import watch
        from kubernetes.client.rest import ApiException

        kind = self.kinds[plural]
        fn: Callable[..., Any] = self.custom.list_cluster_custom_object
        args: tuple[str, ...] = (kind.group, kind.version, plural)
        if self.namespace:
            fn = self.custom.list_namespaced_custom_object
            args = (kind.group, kind.version, self.namespace, plural)
        while not self._stop.is_set():
            try:
                listing = fn(*args)
                for obj in listing.get("items", []):
                    self._on_event(kind, "ADDED", obj)
                rv = listing["metadata"]["resourceVersion"]
                w = watch.Watch()
                for event in w.stream(fn, *args, resource_version=rv, timeout_seconds=1):
                    self._on_event(kind, event["type"], event["object"])
                    if self._stop.is_set():
                        w.stop()
                        break
            except ApiException as err:
                if err.status != 410:  # 410 Gone: resourceVersion too old, list again
                    time.sleep(0.5)
            except Exception:  # the API server went away between tests; try again
                time.sleep(0.5)

    def _on_event(self, kind: _Kind, event: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self._lock:
            job = self.jobs.get(key)
            if event == "DELETED":
                if job is not None and job.uid == meta["uid"]:
                    self._kill(job)
                    del self.jobs[key]
                return
            if job is not None and job.uid != meta["uid"]:  # deleted and re-created under the same name
                self._kill(job)
                job = None
            if job is None:
                job = Job(kind.kind, meta["namespace"], meta["name"], meta["uid"], obj)
                self.jobs[key] = job
                if kind.already_finished(obj):
                    job.finished = True
                    return
                kind.created(job)
            job.body = obj
            suspend = kind.suspend_requested(obj)
            if job.finished:
                return
            if suspend and not job.suspended:
                self._kill(job)
                job.suspended = True
                kind.suspended(job)
            elif not suspend and (job.suspended or not (job.replicas or job.pulling)):
                if job.suspended:  # resumed first, running once pods run
                    job.suspended = False
                    kind.resumed(job)
                self._launch(job)

    # ------------------------------------------------------------------ launching
    def _launch(self, job: Job) -> None:
        kind = self._kind(job)
        planned = kind.plan(job)
        if planned is None:  # cannot start (no such runtime): nothing runs
            return
        job.replicas = []
        job.pulling = False
        for replica in planned:
            self._start_replica(job, replica)
            job.replicas.append(replica)
        if job.pulling:
            kind.progress(job)
            return
        job.started = time.time()
        kind.running(job)

    def _start_replica(self, job: Job, replica: Replica) -> None:
        container = replica.container
        image = container.get("image", "")
        base = self.workdir / job.namespace / job.name
        base.mkdir(parents=True, exist_ok=True)
        self._create_pod(job, replica)
        if image in self.images and self.images[image] is None:  # never pulled: nothing runs
            waiting = {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
            self._set_pod_status(job, replica, "Pending", {"waiting": waiting})
            job.pulling = True
            return
        mounts = self._materialise_volumes(job, replica.pod_spec, container, base / replica.pod)
        env = {
            **os.environ,
            **self.extra_env,
            **self._container_env(job.namespace, container, mounts),
            **replica.injected,
            "PYTHONUNBUFFERED": "1",
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        argv = self.images.get(image) or [*container.get("command", []), *container.get("args", [])]
        argv = [_rewrite(a, mounts) for a in argv]
        with replica.log_path.open("ab") as log:
            replica.process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=container.get("workingDir") or None,
                start_new_session=True,
            )
        replica.exit_code = None
        self._set_pod_status(job, replica, "Running", {"running": {"startedAt": now_iso()}})
        self.launched.append(f"{job.namespace}/{job.name}")

    def _materialise_volumes(self, job: Job, pod_spec: Obj, container: Obj, root: Path) -> dict[str, str]:
        """Write ConfigMap/Secret volumes under ``root``; map each mountPath to its local directory."""
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        mounts: dict[str, str] = {}
        for mount in container.get("volumeMounts", []):
            vol = volumes.get(mount["name"], {})
            local = root / mount["name"]
            if local.exists():
                shutil.rmtree(local)
            local.mkdir(parents=True)
            data: dict[str, str] = {}
            if "configMap" in vol:
                cm = self.core.read_namespaced_config_map(vol["configMap"]["name"], job.namespace)
                data = dict(cm.data or {})
            elif "secret" in vol:
                sec = self.core.read_namespaced_secret(vol["secret"]["secretName"], job.namespace)
                data = {k: base64.b64decode(v).decode() for k, v in (sec.data or {}).items()}
            for key, value in data.items():
                (local / key).write_text(value)
            if mount.get("subPath"):
                mounts[mount["mountPath"]] = str(local / mount["subPath"])
            else:
                mounts[mount["mountPath"]] = str(local)
        return mounts

    def _container_env(self, namespace: str, container: Obj, mounts: dict[str, str]) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in container.get("envFrom", []):
            if "secretRef" in item:
                sec = self.core.read_namespaced_secret(item["secretRef"]["name"], namespace)
                env.update({k: base64.b64decode(v).decode() for k, v in (sec.data or {}).items()})
            elif "configMapRef" in item:
                env.update(
                    self.core.read_namespaced_config_map(item["configMapRef"]["name"], namespace).data or {}
                )
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = _rewrite(str(item["value"]), mounts)
            elif "secretKeyRef" in item.get("valueFrom", {}):
                ref = item["valueFrom"]["secretKeyRef"]
                sec = self.core.read_namespaced_secret(ref["name"], namespace)
                env[item["name"]] = base64.b64decode((sec.data or {})[ref["key"]]).decode()
            elif "configMapKeyRef" in item.get("valueFrom", {}):
                ref = item["valueFrom"]["configMapKeyRef"]
                env[item["name"]] = (self.core.read_namespaced_config_map(ref["name"], namespace).data or {})[
                    ref["key"]
                ]
        return env

    # ------------------------------------------------------------------ pods
    def _create_pod(self, job: Job, replica: Replica) -> None:
        from kubernetes.client.rest import ApiException

        kind = self._kind(job)
        c = replica.container
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": replica.pod,
                "labels": dict(replica.labels),
                "ownerReferences": [
                    {"apiVersion": f"{kind.group}/{kind.version}", "kind": kind.kind, "name": job.name,
                     "uid": job.uid, "controller": True}
                ],
            },
            "spec": {
                "nodeName": self.kubelet.node,
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": c["name"],
                        "image": c.get("image") or "local",
                        "terminationMessagePolicy": c.get("terminationMessagePolicy", "File"),
                    }
                ],
            },
        }  # fmt: skip
        with contextlib.suppress(ApiException):
            current = self.core.read_namespaced_pod(replica.pod, job.namespace)
            if current.metadata.uid and replica.restarts and kind.restarts_in_place(job):
                return  # the container restarts in its pod
            self.core.delete_namespaced_pod(replica.pod, job.namespace, grace_period_seconds=0)
        for _ in range(50):
            try:
                self.core.create_namespaced_pod(job.namespace, body)
                return
            except ApiException as err:
                if err.status != 409:  # the old pod is still being deleted
                    raise
                time.sleep(0.1)

    def _finish_pod(self, job: Job, replica: Replica) -> None:
        code = replica.exit_code if replica.exit_code is not None else -1
        fallback = replica.container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        state = {
            "terminated": {
                "exitCode": code if code >= 0 else 128 - code,
                "reason": "Completed" if code == 0 else "Error",
                "message": _tail(replica.log_path, LOG_TAIL_LINES) if code != 0 and fallback else "",
                "finishedAt": now_iso(),
            }
        }
        self._set_pod_status(job, replica, "Succeeded" if code == 0 else "Failed", state)

    def _set_pod_status(self, job: Job, replica: Replica, phase: str, state: Obj) -> None:
        """The pod's phase and its one container's state, as the kubelet would write them."""
        from kubernetes.client.rest import ApiException

        try:
            pod = self.core.read_namespaced_pod(replica.pod, job.namespace)
        except ApiException:
            return
        pod.status.phase = phase
        pod.status.container_statuses = [
            {
                "name": replica.container["name"],
                "image": replica.container.get("image") or "local",
                "imageID": "",
                "ready": "running" in state,
                "restartCount": replica.restarts,
                "state": state,
            }
        ]
        with contextlib.suppress(ApiException):  # lost to a concurrent deletion: of no consequence
            self.core.replace_namespaced_pod_status(replica.pod, job.namespace, pod)

    def _log_of(self, namespace: str, pod: str, container: str) -> Path | None:
        """The log file of a container of ours (the kubelet's answer to ``pods/<pod>/log``)."""
        with self._lock:
            for job in self.jobs.values():
                for r in job.replicas:
                    if job.namespace == namespace and r.pod == pod and r.container["name"] == container:
                        return r.log_path
        return None

    # ------------------------------------------------------------------ monitoring
    def _monitor_loop(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                for job in list(self.jobs.values()):
                    if not job.finished and not job.suspended and job.replicas:
                        self._check(job)

    def _check(self, job: Job) -> None:
        kind = self._kind(job)
        for r in job.replicas:
            if r.process is not None and r.exit_code is None and r.process.poll() is not None:
                r.exit_code = r.process.returncode
                self._finish_pod(job, r)
        if kind.past_deadline(job):
            self._kill(job)
            job.finished = True
            kind.failed(job, [], deadline=True)
            return
        failed = [r for r in job.replicas if r.exit_code not in (None, 0)]
        if failed:
            kind.on_failure(job, failed)
        elif kind.succeeded(job):
            self._kill(job)
            job.finished = True
            kind.completed(job)

    def _kill(self, job: Job) -> None:
        for r in job.replicas:
            _stop_process(r.process)

    def _kind(self, job: Job) -> _Kind:
        return next(k for k in self.kinds.values() if k.kind == job.kind)

    # ------------------------------------------------------------------ status
    def write_status(self, kind: _Kind, job: Job, change: Callable[[Obj], None]) -> None:
        """Read the job's status, ``change`` it and write it back (again on a conflict)."""
        from kubernetes.client.rest import ApiException

        for _ in range(20):
            try:
                current = self.custom.get_namespaced_custom_object_status(
                    kind.group, kind.version, job.namespace, kind.plural, job.name
                )
            except ApiException as err:
                if err.status == 404:
                    return
                raise
            status = copy.deepcopy(current.get("status") or {})
            change(status)
            try:
                self.custom.replace_namespaced_custom_object_status(
                    kind.group,
                    kind.version,
                    job.namespace,
                    kind.plural,
                    job.name,
                    {**current, "status": status},
                )
                return
            except ApiException as err:
                if err.status == 404:
                    return
                if err.status != 409:  # 409: someone else wrote; read again
                    raise
        raise RuntimeError(f"could not write the status of {kind.kind} {job.namespace}/{job.name}")


class _Kind:
    """One kind of job as its controller runs it (see the module docstring)."""

    kind: str
    group: str
    version: str
    plural: str

    def __init__(self, ex: JobExecutor) -> None:
        self.ex = ex

    def already_finished(self, obj: Obj) -> bool:
        raise NotImplementedError

    def suspend_requested(self, obj: Obj) -> bool:
        raise NotImplementedError

    def plan(self, job: Job) -> list[Replica] | None:
        raise NotImplementedError

    def created(self, job: Job) -> None: ...
    def progress(self, job: Job) -> None: ...
    def running(self, job: Job) -> None: ...
    def suspended(self, job: Job) -> None: ...
    def resumed(self, job: Job) -> None: ...
    def completed(self, job: Job) -> None: ...
    def failed(self, job: Job, replicas: list[Replica], *, deadline: bool = False) -> None: ...

    def restarts_in_place(self, job: Job) -> bool:
        return False

    def past_deadline(self, job: Job) -> bool:
        return False

    def succeeded(self, job: Job) -> bool:
        return all(r.exit_code == 0 for r in job.replicas)

    def on_failure(self, job: Job, failed: list[Replica]) -> None:
        raise NotImplementedError

    def log_path(self, job: Job, pod: str) -> Path:
        return self.ex.workdir / job.namespace / job.name / f"{pod}.log"


class _PyTorchJobs(_Kind):
    """Kubeflow Training Operator v1."""

    kind, group, version, plural = "PyTorchJob", GROUP, VERSION, PLURAL

    def already_finished(self, obj: Obj) -> bool:
        conds = obj.get("status", {}).get("conditions", [])
        return any(c["type"] in ("Succeeded", "Failed") and c["status"] == "True" for c in conds)

    def suspend_requested(self, obj: Obj) -> bool:
        return bool(obj.get("spec", {}).get("runPolicy", {}).get("suspend"))

    def plan(self, job: Job) -> list[Replica]:
        spec = job.body.get("spec", {})
        specs: dict[str, Any] = spec.get("pytorchReplicaSpecs", {})
        order = [("Master", specs.get("Master")), ("Worker", specs.get("Worker"))]
        nodes = [(rtype, i) for rtype, rs in order if rs for i in range(int(rs.get("replicas", 1)))]
        port = str(free_port())
        out = []
        for rank, (rtype, index) in enumerate(nodes):
            template = specs[rtype]["template"]
            containers = template["spec"]["containers"]
            container = next((c for c in containers if c.get("name") == "pytorch"), containers[0])
            pod = f"{job.name}-{rtype.lower()}-{index}"
            labels = {
                PYTORCHJOB_POD_LABEL: job.name,
                "training.kubeflow.org/replica-type": rtype.lower(),
                "training.kubeflow.org/replica-index": str(index),
            }
            injected = {
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "WORLD_SIZE": str(len(nodes)),
                "RANK": str(rank), "PET_NNODES": str(len(nodes)), "PET_NODE_RANK": str(rank),
                "PET_NPROC_PER_NODE": str(spec.get("nprocPerNode", "1")), "PET_MASTER_ADDR": "127.0.0.1",
                "PET_MASTER_PORT": port,
            }  # fmt: skip
            out.append(
                Replica(
                    rtype,
                    index,
                    rank,
                    pod,
                    container,
                    template["spec"],
                    labels,
                    injected,
                    self.log_path(job, pod),
                )
            )
        return out

    def created(self, job: Job) -> None:
        self._conditions(job, [("Created", "PyTorchJobCreated", "job created")])

    def running(self, job: Job) -> None:
        self._conditions(
            job, [("Running", "PyTorchJobRunning", "job is running")], extra={"startTime": now_iso()}
        )

    def suspended(self, job: Job) -> None:
        self._conditions(job, [("Suspended", "PyTorchJobSuspended", "job suspended")])

    def resumed(self, job: Job) -> None:
        self._conditions(job, [], cleared=("Suspended", "PyTorchJobResumed", "job resumed"))

    def completed(self, job: Job) -> None:
        msg = f"PyTorchJob {job.name} is successfully completed."
        self._conditions(
            job, [("Succeeded", "PyTorchJobSucceeded", msg)], extra={"completionTime": now_iso()}
        )

    def failed(self, job: Job, replicas: list[Replica], *, deadline: bool = False) -> None:
        msg = (
            f"PyTorchJob {job.name} is failed because {len(replicas)} {replicas[0].rtype} replica(s) failed."
        )
        self._conditions(job, [("Failed", "PyTorchJobFailed", msg)], extra={"completionTime": now_iso()})

    def succeeded(self, job: Job) -> bool:  # when the Master succeeds
        return all(r.exit_code == 0 for r in job.replicas if r.rtype == "Master")

    def on_failure(self, job: Job, failed: list[Replica]) -> None:
        self.ex._kill(job)
        policy = job.body["spec"]["pytorchReplicaSpecs"][failed[0].rtype].get("restartPolicy", "Never")
        limit = int(job.body["spec"].get("runPolicy", {}).get("backoffLimit", 0) or 0)
        if policy in ("OnFailure", "Always") and job.restarts < limit:
            job.restarts += 1
            why = f"{failed[0].pod} exited with {failed[0].exit_code}"
            self._conditions(job, [("Restarting", "PyTorchJobRestarting", why)])
            for r in job.replicas:
                r.restarts = job.restarts
            self.ex._launch(job)
            return
        job.finished = True
        self.failed(job, failed)

    def _conditions(
        self, job: Job, conditions: list[tuple[str, str, str]], *, extra: Obj | None = None,
        cleared: tuple[str, str, str] | None = None,
    ) -> None:  # fmt: skip
        """Set conditions the way the training operator does: the newest is True, Running turns False at
        the end; ``cleared`` (type, reason, message) turns one False (Suspended when resumed)."""

        def change(status: Obj) -> None:
            conds = {c["type"]: dict(c) for c in status.get("conditions", [])}
            stamp = now_iso()
            for ctype, reason, message in conditions:
                if ctype in ("Succeeded", "Failed", "Suspended", "Restarting") and "Running" in conds:
                    conds["Running"].update(status="False", lastTransitionTime=stamp)
                if ctype == "Running":
                    for other in ("Restarting", "Suspended"):
                        if other in conds:
                            conds[other].update(status="False", lastTransitionTime=stamp)
                conds[ctype] = {"type": ctype, "status": "True", "reason": reason, "message": message,
                                "lastUpdateTime": stamp, "lastTransitionTime": stamp}  # fmt: skip
            if cleared is not None and cleared[0] in conds:
                ctype, reason, message = cleared
                conds[ctype].update(status="False", reason=reason, message=message, lastUpdateTime=stamp,
                                    lastTransitionTime=stamp)  # fmt: skip
            status["conditions"] = list(conds.values())
            status["replicaStatuses"] = self._replica_statuses(job)
            status.update(extra or {})

        self.ex.write_status(self, job, change)

    @staticmethod
    def _replica_statuses(job: Job) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in job.replicas:
            s = out.setdefault(r.rtype, {"active": 0, "succeeded": 0, "failed": 0})
            key = "active" if r.exit_code is None else ("succeeded" if r.exit_code == 0 else "failed")
            s[key] += 1
        return out


class _TrainJobs(_Kind):
    """Kubeflow Trainer v2.3 with JobSet and the Job controller, for a torch runtime."""

    kind, group, version, plural = "TrainJob", TRAINER_GROUP, TRAINER_VERSION, TRAINJOBS

    def already_finished(self, obj: Obj) -> bool:
        conds = obj.get("status", {}).get("conditions", [])
        return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds)

    def suspend_requested(self, obj: Obj) -> bool:
        return bool(obj.get("spec", {}).get("suspend"))

    def runtime(self, job: Job) -> Obj | None:
        """The runtime the job names (None: there is none)."""
        from kubernetes.client.rest import ApiException

        ref = job.body["spec"]["runtimeRef"]
        try:
            if ref.get("kind", CLUSTER_TRAINING_RUNTIME) == CLUSTER_TRAINING_RUNTIME:
                found: Obj = self.ex.custom.get_cluster_custom_object(
                    TRAINER_GROUP, TRAINER_VERSION, CLUSTER_TRAINING_RUNTIMES, ref["name"]
                )
            else:
                found = self.ex.custom.get_namespaced_custom_object(
                    TRAINER_GROUP, TRAINER_VERSION, job.namespace, TRAINING_RUNTIMES, ref["name"]
                )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return found

    def template(self, job: Job) -> Obj | None:
        """The trainer job ``node`` of the runtime with the TrainJob's patches and trainer merged in."""
        runtime = self.runtime(job)
        if runtime is None:
            return None
        jobs = runtime["spec"]["template"]["spec"]["replicatedJobs"]
        node = copy.deepcopy(next(j for j in jobs if j["name"] == TRAINER_NODE))
        for patch in job.body["spec"].get("runtimePatches") or []:
            replicated = ((patch.get("trainingRuntimeSpec") or {}).get("template") or {}).get("spec") or {}
            for p in replicated.get("replicatedJobs") or []:
                if p.get("name") == TRAINER_NODE:
                    node = _merge(node, {k: v for k, v in p.items() if k != "name"})
        pod = node["template"]["spec"]["template"]
        container = next(c for c in pod["spec"]["containers"] if c["name"] == TRAINER_NODE)
        trainer = job.body["spec"].get("trainer") or {}
        for key in ("image", "command", "args"):
            if key in trainer:
                container[key] = copy.deepcopy(trainer[key])
        if trainer.get("env"):
            container["env"] = _merge_named(container.get("env") or [], trainer["env"])
        if "resourcesPerNode" in trainer:
            container["resources"] = copy.deepcopy(trainer["resourcesPerNode"])
        merged: Obj = node
        return merged

    def plan(self, job: Job) -> list[Replica] | None:
        node = self.template(job)
        if node is None:
            return None
        trainer = job.body["spec"].get("trainer") or {}
        nodes = int(trainer.get("numNodes") or 1)
        port = str(free_port())
        pod_template = node["template"]["spec"]["template"]
        container = next(c for c in pod_template["spec"]["containers"] if c["name"] == TRAINER_NODE)
        out = []
        for i in range(nodes):
            pod = self.pod_name(job, i, 0)
            labels = {
                **((pod_template.get("metadata") or {}).get("labels") or {}),
                **((node["template"].get("metadata") or {}).get("labels") or {}),
                JOBSET_NAME_LABEL: job.name,
                JOBSET_REPLICATED_JOB_LABEL: TRAINER_NODE,
                "jobset.sigs.k8s.io/job-index": "0",
                JOB_COMPLETION_INDEX_LABEL: str(i),
            }
            injected = {  # Trainer's torch plugin (its master address is node 0's hostname; here loopback)
                "PET_NNODES": str(nodes), "PET_NPROC_PER_NODE": str(trainer.get("numProcPerNode", "auto")),
                "PET_NODE_RANK": str(i), "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": port,
            }  # fmt: skip
            out.append(
                Replica(TRAINER_NODE, i, i, pod, container, pod_template["spec"], labels, injected,
                        self.log_path(job, pod))
            )  # fmt: skip
        return out

    @staticmethod
    def pod_name(job: Job, index: int, generation: int) -> str:
        """``<job>-node-0-<index>-<5 characters>`` as the Job controller names its pods."""
        suffix = hashlib.sha256(f"{job.uid}/{index}/{generation}".encode()).hexdigest()[:5]
        return f"{job.name}-{TRAINER_NODE}-0-{index}-{suffix}"

    def policy(self, job: Job) -> tuple[str, int]:
        """The runtime's pod restart policy and its Job's backoff limit (with their defaults)."""
        node = self.template(job) or {}
        spec = (node.get("template") or {}).get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        return pod.get("restartPolicy") or TRAINJOB_RESTART_POLICY, int(
            spec.get("backoffLimit", TRAINJOB_BACKOFF_LIMIT)
        )

    def restarts_in_place(self, job: Job) -> bool:
        return self.policy(job)[0] == "OnFailure"

    def progress(self, job: Job) -> None:
        self._status(job)

    def running(self, job: Job) -> None:
        self._status(job)

    def suspended(self, job: Job) -> None:
        self._status(job, ("Suspended", "True", "Suspended", "TrainJob is suspended"))

    def resumed(self, job: Job) -> None:
        self._status(job, ("Suspended", "False", "Resumed", "TrainJob is resumed"))

    def completed(self, job: Job) -> None:
        self._status(job, ("Complete", "True", "AllJobsCompleted", "jobset completed successfully"))

    def failed(self, job: Job, replicas: list[Replica], *, deadline: bool = False) -> None:
        if deadline:  # Trainer deletes the JobSet, and with it the pods
            for r in job.replicas:
                with contextlib.suppress(Exception):
                    self.ex.core.delete_namespaced_pod(r.pod, job.namespace, grace_period_seconds=0)
            why = ("Failed", "True", "DeadlineExceeded", "TrainJob exceeded its active deadline")
        else:
            why = ("Failed", "True", "FailedJobs", "jobset failed due to one or more job failures")
        self._status(job, why)

    def past_deadline(self, job: Job) -> bool:
        limit = job.body["spec"].get("activeDeadlineSeconds")
        return bool(limit) and job.started is not None and time.time() - job.started > float(limit)

    def on_failure(self, job: Job, failed: list[Replica]) -> None:
        policy, limit = self.policy(job)
        if job.restarts + len(failed) <= limit:  # the Job restarts the failed nodes (in place with OnFailure)
            for r in failed:
                job.restarts += 1
                r.restarts += 1
                if policy != "OnFailure":
                    r.pod = self.pod_name(job, r.index, r.restarts)
                    r.log_path = self.log_path(job, r.pod)
                self.ex._start_replica(job, r)
            return
        self.ex._kill(job)
        job.finished = True
        self.failed(job, failed)

    def _status(self, job: Job, condition: tuple[str, str, str, str] | None = None) -> None:
        """``jobsStatus`` of the child job ``node`` as JobSet counts it, and ``condition`` (type, status,
        reason, message) set as Kubernetes' ``meta.SetStatusCondition`` does."""
        generation = job.body["metadata"].get("generation")

        def change(status: Obj) -> None:
            if condition is not None:
                ctype, value, reason, message = condition
                conds = [c for c in status.get("conditions") or []]
                old = next((c for c in conds if c["type"] == ctype), None)
                stamp = now_iso() if old is None or old["status"] != value else old["lastTransitionTime"]
                new = {"type": ctype, "status": value, "reason": reason, "message": message,
                       "lastTransitionTime": stamp, "observedGeneration": generation}  # fmt: skip
                status["conditions"] = [c for c in conds if c["type"] != ctype] + [new]
            status["jobsStatus"] = [{"name": TRAINER_NODE, **self._counts(job)}]

        self.ex.write_status(self, job, change)

    @staticmethod
    def _counts(job: Job) -> dict[str, int]:
        """One child Job: ready once every node runs (or ran), active while any node runs or waits."""
        counts = {"ready": 0, "succeeded": 0, "failed": 0, "active": 0, "suspended": 0}
        if job.suspended:
            counts["suspended"] = 1
        elif job.finished and job.replicas and all(r.exit_code == 0 for r in job.replicas):
            counts["succeeded"] = 1
        elif job.finished:
            counts["failed"] = 1
        elif job.replicas:
            counts["active"] = 1
            counts["ready"] = 0 if job.pulling else 1
        return counts


def _merge(base: Any, patch: Any, key: str = "") -> Any:
    """``patch`` merged into ``base`` as a strategic merge patch does for a pod template: maps key by key,
    lists of named items by name, other lists replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in NAMED_LISTS:
        return _merge_named(base, patch)
    return copy.deepcopy(patch)


def _merge_named(base: list[Obj], patch: list[Obj]) -> list[Obj]:
    out = [copy.deepcopy(b) for b in base]
    for item in patch:
        i = next((n for n, b in enumerate(out) if b.get("name") == item.get("name")), None)
        if i is None:
            out.append(copy.deepcopy(item))
        else:
            out[i] = _merge(out[i], item)
    return out


def _stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _rewrite(text: str, mounts: dict[str, str]) -> str:
    """Replace container mount paths (at path boundaries) with their local directories, in one pass so a
    replacement is never rewritten again (``/tmp`` inside an already mapped ``/tmp/...`` directory)."""
    if not mounts:
        return text
    paths = sorted(mounts, key=len, reverse=True)
    pattern = re.compile(
        "(?<![\\w.-])(" + "|".join(re.escape(m.rstrip("/")) for m in paths) + ")(?=/|$|[^\\w.-])"
    )
    return pattern.sub(lambda m: mounts.get(m.group(1)) or mounts[m.group(1) + "/"], text)


def _tail(path: Path, lines: int) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(data[-lines:])
