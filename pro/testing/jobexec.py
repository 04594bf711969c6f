"""A test-side stand-in for the Kubeflow training operator: runs PyTorchJobs as local processes.

There is no kubelet on the test API server, so nothing runs a Pod.  :class:`JobExecutor`
watches ``kubeflow.org/v1`` PyTorchJobs, runs each replica's ``pytorch`` container command as a
local process with the environment the training operator injects (MASTER_ADDR, MASTER_PORT,
WORLD_SIZE, RANK, PET_NNODES, PET_NODE_RANK, PET_NPROC_PER_NODE, PYTHONUNBUFFERED), and reports
back through the API exactly as the real controllers would:

- job ``status`` through the status subresource: conditions Created / Running / Restarting /
  Succeeded / Failed / Suspended, ``replicaStatuses``, ``startTime``, ``completionTime``;
- one Pod object per replica (``<job>-master-0``, ``<job>-worker-N``), labelled like the
  training operator's, owned by the job, whose status carries the container's exit code and,
  as ``terminationMessagePolicy: FallbackToLogsOnError`` does, the last 80 log lines.

ConfigMap and Secret volumes are written to a per-replica directory and their mount paths are
rewritten in the command, args and env values; ``secretKeyRef``/``configMapKeyRef`` env values
are read from the API.  ``runPolicy.suspend`` stops the processes; ``restartPolicy: OnFailure``
restarts up to ``runPolicy.backoffLimit`` times.  Deleting a job stops its processes.

Fault injection, by container image (``JobExecutor.images``, read at each launch): an image mapped to
an argv runs that argv instead of the container's command (an image whose ``torchrun`` does something
else, e.g. exits 0 without training; mount paths in it are rewritten as the command's are); an image mapped to None cannot be pulled: its pods wait in
``ImagePullBackOff`` and the job stays Created, as on a cluster whose registry refuses the image.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pro.spec.conventions import KUBEFLOW_GROUP as GROUP
from pro.spec.conventions import KUBEFLOW_VERSION as VERSION
from pro.spec.conventions import PYTORCHJOBS as PLURAL
from pro.spec.conventions import rfc3339
from pro.testing.s3server import free_port

CRD_PATH = Path(__file__).with_name("crds") / "pytorchjob.yaml"
LOG_TAIL_LINES = 80


def now_iso() -> str:
    return rfc3339(datetime.now(UTC))


def install_crd(api_client: Any) -> None:
    """Install the stand-in PyTorchJob CRD unless one is there (a real Kubeflow one is kept)."""
    import yaml
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        return
    except ApiException as err:
        if err.status != 404:
            raise
    ext.create_custom_resource_definition(yaml.safe_load(CRD_PATH.read_text()))
    for _ in range(100):
        crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []):
            return
        time.sleep(0.1)
    raise RuntimeError("the PyTorchJob CRD did not become Established")


@dataclass
class Replica:
    """One running replica: its process, log and pod name."""

    rtype: str
    index: int
    rank: int
    pod: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None


@dataclass
class Job:
    namespace: str
    name: str
    uid: str
    body: dict[str, Any]
    replicas: list[Replica] = field(default_factory=list)
    restarts: int = 0
    finished: bool = False
    suspended: bool = False
    pulling: bool = False
    """Its pods wait for an image that cannot be pulled (nothing runs)."""


class JobExecutor:
    """Runs the PyTorchJobs of ``namespace`` (all namespaces when None) as local processes.

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
    ) -> None:
        from kubernetes import client, config

        self.api_client = config.new_client_from_config(config_file=kubeconfig)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        self.workdir = workdir
        self.namespace = namespace
        self.extra_env = dict(extra_env or {})
        self.jobs: dict[str, Job] = {}
        self.launched: list[str] = []
        """``namespace/name`` of every launch, restarts included (tests count duplicates with it)."""
        self.images: dict[str, list[str] | None] = {}
        """Fault injection by container image (see the module docstring): an argv that replaces the
        container's command, or None for an image that cannot be pulled."""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> JobExecutor:
        install_crd(self.api_client)
        for target in (self._watch_loop, self._monitor_loop):
            t = threading.Thread(target=target, daemon=True, name=f"jobexec-{target.__name__}")
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
        self.api_client.close()

    def __enter__(self) -> JobExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ watching
    def _list_and_watch_args(self) -> tuple[Any, tuple[Any, ...]]:
        if self.namespace:
            return self.custom.list_namespaced_custom_object, (GROUP, VERSION, self.namespace, PLURAL)
        return self.custom.list_cluster_custom_object, (GROUP, VERSION, PLURAL)

    def _watch_loop(self) -> None:
        from kubernetes import watch
        from kubernetes.client.rest import ApiException

        fn, args = self._list_and_watch_args()
        while not self._stop.is_set():
            try:
                listing = fn(*args)
                for obj in listing.get("items", []):
                    self._on_event("ADDED", obj)
                rv = listing["metadata"]["resourceVersion"]
                w = watch.Watch()
                for event in w.stream(fn, *args, resource_version=rv, timeout_seconds=1):
                    self._on_event(event["type"], event["object"])
                    if self._stop.is_set():
                        w.stop()
                        break
            except ApiException as err:
                if err.status != 410:  # 410 Gone: resourceVersion too old, list again
                    time.sleep(0.5)
            except Exception:  # the API server went away between tests; try again
                time.sleep(0.5)

    def _on_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self._lock:
            job = self.jobs.get(key)
            if kind == "DELETED":
                if job is not None and job.uid == meta["uid"]:
                    self._kill(job)
                    del self.jobs[key]
                return
            if job is not None and job.uid != meta["uid"]:  # deleted and re-created under the same name
                self._kill(job)
                job = None
            if job is None:
                job = Job(meta["namespace"], meta["name"], meta["uid"], obj)
                self.jobs[key] = job
                if self._already_finished(obj):
                    job.finished = True
                    return
                self._patch_status(job, conditions=[("Created", "PyTorchJobCreated", "job created")])
            job.body = obj
            suspend = bool(obj.get("spec", {}).get("runPolicy", {}).get("suspend"))
            if job.finished:
                return
            if suspend and not job.suspended:
                self._kill(job)
                job.suspended = True
                self._patch_status(job, conditions=[("Suspended", "PyTorchJobSuspended", "job suspended")])
            elif not suspend and (job.suspended or not (job.replicas or job.pulling)):
                if job.suspended:  # as the training operator does: resumed first, running once pods run
                    job.suspended = False
                    self._patch_status(
                        job, conditions=[], cleared=("Suspended", "PyTorchJobResumed", "job resumed")
                    )
                self._launch(job)

    @staticmethod
    def _already_finished(obj: dict[str, Any]) -> bool:
        conds = obj.get("status", {}).get("conditions", [])
        return any(c["type"] in ("Succeeded", "Failed") and c["status"] == "True" for c in conds)

    # ------------------------------------------------------------------ launching
    def _launch(self, job: Job) -> None:
        spec = job.body.get("spec", {})
        replica_specs: dict[str, Any] = spec.get("pytorchReplicaSpecs", {})
        master_port = str(free_port())
        order = [("Master", replica_specs.get("Master")), ("Worker", replica_specs.get("Worker"))]
        plan = [(rtype, i) for rtype, rs in order if rs for i in range(int(rs.get("replicas", 1)))]
        world = len(plan)
        nproc = str(spec.get("nprocPerNode", "1"))
        job.replicas = []
        job.pulling = False
        for rank, (rtype, index) in enumerate(plan):
            pod = f"{job.name}-{rtype.lower()}-{index}"
            base = self.workdir / job.namespace / job.name
            base.mkdir(parents=True, exist_ok=True)
            replica = Replica(rtype, index, rank, pod, base / f"{pod}.log")
            template = replica_specs[rtype]["template"]
            container = next(
                (c for c in template["spec"]["containers"] if c.get("name") == "pytorch"),
                template["spec"]["containers"][0],
            )
            image = container.get("image", "")
            if image in self.images and self.images[image] is None:  # never pulled: nothing runs
                self._create_pod(job, replica, container)
                self._set_pod_status(
                    job,
                    replica,
                    "Pending",
                    {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": f'Back-off pulling image "{image}"',
                        }
                    },
                )
                job.pulling = True
                continue
            mounts = self._materialise_volumes(job, template["spec"], container, base / pod)
            env = {
                **os.environ,
                **self.extra_env,
                **self._container_env(job.namespace, container, mounts),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": master_port,
                "WORLD_SIZE": str(world),
                "RANK": str(rank),
                "PET_NNODES": str(world),
                "PET_NODE_RANK": str(rank),
                "PET_NPROC_PER_NODE": nproc,
                "PET_MASTER_ADDR": "127.0.0.1",
                "PET_MASTER_PORT": master_port,
                "PYTHONUNBUFFERED": "1",
            }
            env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
            argv = [*container.get("command", []), *container.get("args", [])]
            argv = [_rewrite(a, mounts) for a in self.images.get(image) or argv]
            self._create_pod(job, replica, container)
            with replica.log_path.open("ab") as log:
                replica.process = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=container.get("workingDir") or None,
                    start_new_session=True,
                )
            job.replicas.append(replica)
            self.launched.append(f"{job.namespace}/{job.name}")
        if job.pulling:
            return
        self._patch_status(
            job,
            conditions=[("Running", "PyTorchJobRunning", "job is running")],
            extra={"startTime": now_iso()},
        )

    def _materialise_volumes(
        self, job: Job, pod_spec: dict[str, Any], container: dict[str, Any], root: Path
    ) -> dict[str, str]:
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

    def _container_env(
        self, namespace: str, container: dict[str, Any], mounts: dict[str, str]
    ) -> dict[str, str]:
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
    def _create_pod(self, job: Job, replica: Replica, container: dict[str, Any]) -> None:
        from kubernetes.client.rest import ApiException

        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": replica.pod,
                "labels": {
                    "training.kubeflow.org/job-name": job.name,
                    "training.kubeflow.org/replica-type": replica.rtype.lower(),
                    "training.kubeflow.org/replica-index": str(replica.index),
                },
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "PyTorchJob",
                        "name": job.name,
                        "uid": job.uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "pytorch",
                        "image": container.get("image", "local"),
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                    }
                ],
            },
        }
        try:
            self.core.delete_namespaced_pod(replica.pod, job.namespace, grace_period_seconds=0)
        except ApiException as err:
            if err.status != 404:
                raise
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
        tail = _tail(replica.log_path, LOG_TAIL_LINES)
        state = {
            "terminated": {
                "exitCode": code if code >= 0 else 128 - code,
                "reason": "Completed" if code == 0 else "Error",
                "message": tail if code != 0 else "",
                "finishedAt": now_iso(),
            }
        }
        self._set_pod_status(job, replica, "Succeeded" if code == 0 else "Failed", state)

    def _set_pod_status(self, job: Job, replica: Replica, phase: str, state: dict[str, Any]) -> None:
        """The pod's phase and its one container's state, as the kubelet would write them."""
        from kubernetes.client.rest import ApiException

        try:
            pod = self.core.read_namespaced_pod(replica.pod, job.namespace)
        except ApiException:
            return
        pod.status.phase = phase
        pod.status.container_statuses = [
            {
                "name": "pytorch",
                "image": "local",
                "imageID": "",
                "ready": False,
                "restartCount": job.restarts,
                "state": state,
            }
        ]
        with contextlib.suppress(ApiException):  # lost to a concurrent deletion: of no consequence
            self.core.replace_namespaced_pod_status(replica.pod, job.namespace, pod)

    # ------------------------------------------------------------------ monitoring
    def _monitor_loop(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                for job in list(self.jobs.values()):
                    if not job.finished and not job.suspended and job.replicas:
                        self._check(job)

    def _check(self, job: Job) -> None:
        for r in job.replicas:
            if r.process is not None and r.exit_code is None and r.process.poll() is not None:
                r.exit_code = r.process.returncode
                self._finish_pod(job, r)
        failed = [r for r in job.replicas if r.exit_code not in (None, 0)]
        master_done = all(r.exit_code == 0 for r in job.replicas if r.rtype == "Master")
        if failed:
            self._kill(job)
            policy = job.body["spec"]["pytorchReplicaSpecs"][failed[0].rtype].get("restartPolicy", "Never")
            limit = int(job.body["spec"].get("runPolicy", {}).get("backoffLimit", 0) or 0)
            if policy in ("OnFailure", "Always") and job.restarts < limit:
                job.restarts += 1
                self._patch_status(
                    job,
                    conditions=[
                        (
                            "Restarting",
                            "PyTorchJobRestarting",
                            f"{failed[0].pod} exited with {failed[0].exit_code}",
                        )
                    ],
                )
                self._launch(job)
                return
            job.finished = True
            msg = (
                f"PyTorchJob {job.name} is failed because {len(failed)} {failed[0].rtype} replica(s) failed."
            )
            self._patch_status(
                job, conditions=[("Failed", "PyTorchJobFailed", msg)], extra={"completionTime": now_iso()}
            )
        elif master_done:
            self._kill(job)
            job.finished = True
            msg = f"PyTorchJob {job.name} is successfully completed."
            self._patch_status(
                job,
                conditions=[("Succeeded", "PyTorchJobSucceeded", msg)],
                extra={"completionTime": now_iso()},
            )

    def _kill(self, job: Job) -> None:
        for r in job.replicas:
            if r.process is not None and r.process.poll() is None:
                try:
                    os.killpg(r.process.pid, signal.SIGTERM)
                    r.process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(r.process.pid, signal.SIGKILL)
                    r.process.wait()

    # ------------------------------------------------------------------ status
    def _patch_status(
        self,
        job: Job,
        *,
        conditions: list[tuple[str, str, str]],
        extra: dict[str, Any] | None = None,
        cleared: tuple[str, str, str] | None = None,
    ) -> None:
        """Set conditions the way the training operator does: the newest is True, Running turns False at the end;
        ``cleared`` (type, reason, message) turns one False (Suspended when resumed)."""
        from kubernetes.client.rest import ApiException

        for _ in range(20):
            try:
                current = self.custom.get_namespaced_custom_object_status(
                    GROUP, VERSION, job.namespace, PLURAL, job.name
                )
            except ApiException as err:
                if err.status == 404:
                    return
                raise
            status = dict(current.get("status") or {})
            conds = {c["type"]: dict(c) for c in status.get("conditions", [])}
            stamp = now_iso()
            for ctype, reason, message in conditions:
                if ctype in ("Succeeded", "Failed", "Suspended", "Restarting") and "Running" in conds:
                    conds["Running"].update(status="False", lastTransitionTime=stamp)
                if ctype == "Running":
                    for other in ("Restarting", "Suspended"):
                        if other in conds:
                            conds[other].update(status="False", lastTransitionTime=stamp)
                conds[ctype] = {
                    "type": ctype,
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                }
            if cleared is not None and cleared[0] in conds:
                ctype, reason, message = cleared
                conds[ctype].update(status="False", reason=reason, message=message, lastUpdateTime=stamp,
                                    lastTransitionTime=stamp)  # fmt: skip
            status["conditions"] = list(conds.values())
            status["replicaStatuses"] = self._replica_statuses(job)
            status.update(extra or {})
            body = {**current, "status": status}
            try:
                self.custom.replace_namespaced_custom_object_status(
                    GROUP, VERSION, job.namespace, PLURAL, job.name, body
                )
                return
            except ApiException as err:
                if err.status == 404:
                    return
                if err.status != 409:  # 409: someone else wrote; read again
                    raise
        raise RuntimeError(f"could not write the status of PyTorchJob {job.namespace}/{job.name}")

    @staticmethod
    def _replica_statuses(job: Job) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in job.replicas:
            s = out.setdefault(r.rtype, {"active": 0, "succeeded": 0, "failed": 0})
            key = "active" if r.exit_code is None else ("succeeded" if r.exit_code == 0 else "failed")
            s[key] += 1
        return out


def _rewrite(text: str, mounts: dict[str, str]) -> str:
    """Replace container mount paths (at path boundaries) with their local directories, in one pass so a
    replacement is never rewritten again (``/tmp`` inside an already mapped ``/tmp/...`` directory)."""
    import re

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
