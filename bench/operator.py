"""The operator under load: N concurrent pipelines whose jobs complete instantly, on the local
kube-apiserver, for each job backend asked for (side by side).

    .venv/bin/python bench/operator.py [--pipelines 50] [--backend PyTorchJob] [--backend TrainJob] [--idle 20]
                                       [--workers 4] [--admission-workers N] [--python .venv-slim/bin/python]

Each backend runs on a fresh API server with Kubeflow's own CRDs.  An "instant" executor stands in for
Kubeflow: for each new job (a PyTorchJob, or a TrainJob on ``torch-distributed``) it commits the stage's
artifact (a ``file://`` store, with the job's work digest) and marks the job done as its controller would
(Succeeded; Complete with ``jobsStatus``).  All N pipelines are created at once.  Measured, from watch
streams (nothing polls):

- stage-transition latency: a job marked Succeeded → the next stage's job created (for a stage with
  several inputs, from the last of them) — the issue's target: p99 ≤ 1 s at N = 500;
- admission latency: a pipeline created → its first job created, and each pipeline's run time;
- the operator's peak RSS (target ≤ 150 MB), its API requests per pipeline (its own counter), and those
  made while idle afterwards (none expected: it does not poll);
- its Events: posted, dropped, and the most waiting at once (they wait while reconciles do, and are
  all posted before the idle window starts);
- CPU seconds of every process on the machine's cores (API server, etcd, controller manager, operator,
  this script with its executor), since they all share them.

Baseline, measured in the same run on the same API server before the load: one transition's requests
made back to back by a plain client (patch a stage status, create the next stage resource, its
ConfigMap and its job) — the floor of what the operator's transition latency could be on this server.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pro.spec.conventions import API_GROUP as GROUP
from pro.spec.conventions import API_VERSION as VERSION
from pro.spec.conventions import STAGE_RESOURCE_LABEL, WORK_DIGEST, rfc3339
from pro.testing.operator import JOB_KINDS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "toy" / "pipeline.yaml"


def now_iso() -> str:
    return rfc3339(datetime.now(UTC))


class Watch:
    """Follows one kind in a namespace on a watch stream (resumed from the last resourceVersion) and
    hands each event to ``on_event`` in its own thread."""

    def __init__(
        self, custom: Any, api: tuple[str, str, str], namespace: str, on_event: Callable[[str, Any], None]
    ) -> None:
        self.custom, self.namespace = custom, namespace
        self.group, self.version, self.plural = api
        self.on_event = on_event
        self.stop = threading.Event()
        self.rv: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from kubernetes import watch

        while not self.stop.is_set():
            kwargs: dict[str, Any] = {"timeout_seconds": 30}
            if self.rv:
                kwargs["resource_version"] = self.rv
            try:
                for ev in watch.Watch().stream(
                    self.custom.list_namespaced_custom_object,
                    self.group,
                    self.version,
                    self.namespace,
                    self.plural,
                    **kwargs,
                ):
                    self.rv = ev["object"]["metadata"]["resourceVersion"]
                    self.on_event(ev["type"], ev["object"])
                    if self.stop.is_set():
                        return
            except Exception:  # a dropped stream: open another (after the run: just stop)
                if self.stop.is_set():
                    return


class InstantExecutor:
    """Completes every labelled job of ``backend`` at once: commits its artifact, then marks it done."""

    def __init__(self, api: Any, namespace: str, backend: str, threads: int = 8) -> None:
        from kubernetes import client

        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.backend = backend
        self.pool = ThreadPoolExecutor(threads)
        self.succeeded: dict[str, float] = {}  # stage resource name → when its job was marked Succeeded
        self.created: dict[str, float] = {}  # stage resource name → when its first job was seen
        self.lock = threading.Lock()
        self.watch = Watch(self.custom, JOB_KINDS[backend]["api"], namespace, self._on_event)

    def _on_event(self, kind: str, obj: Any) -> None:
        if kind == "ADDED" and not (obj.get("status") or {}).get("conditions"):
            owner = obj["metadata"]["ownerReferences"][0]["name"]
            with self.lock:
                self.created.setdefault(owner, time.monotonic())
            self.pool.submit(self._complete, obj)

    def _complete(self, job: dict[str, Any]) -> None:
        from pro.store import Producer, put_artifact

        meta = job["metadata"]
        owner = meta["ownerReferences"][0]
        stage = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, owner["kind"].lower() + "s", owner["name"]
        )
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "done.txt").write_text("instant\n")
            put_artifact(
                tmp,
                stage["spec"]["output"],
                producer=Producer(kind=owner["kind"], name=owner["name"]),
                work_digest=meta["annotations"][WORK_DIGEST],
            )
        t = now_iso()
        group, version, plural = JOB_KINDS[self.backend]["api"]
        self.custom.patch_namespaced_custom_object_status(
            group, version, self.namespace, plural, meta["name"], {"status": done_status(self.backend, t)}
        )
        with self.lock:
            self.succeeded[owner["name"]] = time.monotonic()


def done_status(backend: str, t: str) -> dict[str, Any]:
    """A job's status once it succeeded, as its controller writes it."""
    if backend == "TrainJob":
        return {
            "conditions": [
                {"type": "Complete", "status": "True", "reason": "AllJobsCompleted",
                 "message": "jobset completed successfully", "lastTransitionTime": t},
            ],
            "jobsStatus": [{"name": "node", "ready": 0, "succeeded": 1, "failed": 0, "active": 0, "suspended": 0}],
        }  # fmt: skip
    return {
        "conditions": [
            {"type": "Created", "status": "True", "reason": "PyTorchJobCreated", "lastTransitionTime": t},
            {"type": "Running", "status": "False", "reason": "PyTorchJobSucceeded", "lastTransitionTime": t},
            {"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded", "lastTransitionTime": t},
        ],
        "startTime": t,
        "completionTime": t,
        "replicaStatuses": {"Master": {"succeeded": 1}},
    }


class Finished:
    """When each pipeline reached Succeeded or Failed, from a watch stream."""

    def __init__(self, custom: Any, namespace: str) -> None:
        self.at: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.watch = Watch(custom, (GROUP, VERSION, "alignmentpipelines"), namespace, self._on_event)

    def _on_event(self, kind: str, obj: Any) -> None:
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            with self.changed:
                self.at.setdefault(obj["metadata"]["name"], (phase, time.monotonic()))
                self.changed.notify_all()

    def wait(self, n: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.at) >= n, timeout)


def pipeline_body(name: str, namespace: str, store: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"] = {"name": name, "namespace": namespace}
    doc["spec"]["storage"] = {"uri": store}
    doc["spec"]["retry"] = {"limit": 0}
    return doc


def transition_floor(api: Any, namespace: str, store: str, backend: str, repeats: int = 20) -> float:
    """Median time of one transition's requests made back to back by a plain client on the idle
    server: a stage status patched Succeeded, then the next stage resource, its ConfigMap and its job
    created (the requests on the operator's critical path, without the operator)."""
    from kubernetes import client

    from pro.planner.compose import compose
    from pro.render.jobs import owner_reference, render_stage, stage_resource_object
    from pro.spec.pipeline import AlignmentPipeline

    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    c = compose(AlignmentPipeline.model_validate(pipeline_body("floor", namespace, store)))
    first, second = c.stages[0], c.stage("adapter")
    plural = second.kind.lower() + "s"
    first_body = stage_resource_object(first, None)
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, first.kind.lower() + "s", first_body
    )
    times = []
    for i in range(repeats):
        body = stage_resource_object(second, None)
        body["metadata"]["name"] = f"floor-{i}"
        t0 = time.perf_counter()
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, first.kind.lower() + "s", created["metadata"]["name"],
            {"status": {"phase": "Succeeded", "message": f"floor {i}"}},
        )  # fmt: skip
        stage = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
        objs = render_stage(
            second.resource.model_copy(
                update={"metadata": second.resource.metadata.model_copy(update={"name": f"floor-{i}"})}
            ),
            attempt=1,
            owner=owner_reference(f"{GROUP}/{VERSION}", second.kind, f"floor-{i}", stage["metadata"]["uid"]),
            backend=backend,
        )
        objs.job["metadata"]["labels"].pop(STAGE_RESOURCE_LABEL, None)  # not for the executor
        core.create_namespaced_config_map(namespace, objs.config_map)
        job_group, job_version, jobs = JOB_KINDS[backend]["api"]
        custom.create_namespaced_custom_object(job_group, job_version, namespace, jobs, objs.job)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def scrape(port: int, prefix: str = "pro_operator_api_requests_total{") -> dict[str, float]:
    """The operator's metric samples whose line starts with ``prefix`` (default: API requests)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class PeakSampler:
    """The most Events waiting to be posted at once, sampled from the operator's metrics every second."""

    def __init__(self, port: int) -> None:
        self.port, self.peak, self.stop = port, 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, *scrape(self.port, "pro_operator_events_pending ").values(), 0)


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def server_pids(kubeconfig: str) -> dict[str, int]:
    """The kube-local processes of this cluster (none for a cluster it did not start)."""
    run = Path(kubeconfig).parent / "run"
    pids = {}
    for name in ("kube-apiserver", "etcd", "kube-controller-manager"):
        f = run / f"{name}.pid"
        if f.is_file():
            pids[name] = int(f.read_text().split()[0])
    return pids


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Measured:
    """One backend's run: the main table's rows, CPU seconds per process, API requests by verb."""

    rows: dict[str, str]
    cpu: dict[str, float]
    requests: dict[str, float]
    pipelines: int


def measure(args: argparse.Namespace, backend: str) -> Measured:
    """N pipelines at once through the operator on a fresh API server, their jobs as ``backend``."""
    from kubernetes import client, config

    from pro.planner.compose import compose
    from pro.spec.pipeline import AlignmentPipeline
    from pro.testing import kube as kube_harness
    from pro.testing.kubeflow import install_kubeflow
    from pro.testing.operator import OperatorProcess, install_crds
    from pro.testing.s3server import free_port

    work = Path(tempfile.mkdtemp(prefix="pro-bench-operator-"))
    cluster = kube_harness.start(owner_pid=os.getpid())
    try:
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        namespace = "bench"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="floor")))
        install_crds(api)
        install_kubeflow(api)
        store = f"file://{work / 'store'}"
        floor = transition_floor(api, "floor", store, backend)

        port = free_port()
        operator_args = ["--metrics-port", str(port), "--job-backend", backend]
        if args.workers:
            operator_args += ["--workers", str(args.workers)]
        if args.admission_workers:
            operator_args += ["--admission-workers", str(args.admission_workers)]
        limits = work / "guardrails.yaml"
        limits.write_text(yaml.safe_dump({"maxRunningJobsPerNamespace": args.max_running_jobs}))
        operator_args += ["--guardrails", str(limits)]
        operator = OperatorProcess(
            cluster.kubeconfig,
            namespace,
            work / "operator.log",
            args=tuple(operator_args),
            python=args.python,
        )
        # OperatorProcess passes --metrics-port 0 first; the later flag wins (argparse keeps the last)
        operator.start()
        executor = InstantExecutor(api, namespace, backend)
        finished = Finished(custom, namespace)
        time.sleep(3)  # the operator's watches are up
        assert operator.proc is not None
        pids = {
            "operator": operator.proc.pid,
            **server_pids(cluster.kubeconfig),
            "bench + executor": os.getpid(),
        }
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}

        names = [f"bench-{i}" for i in range(args.pipelines)]
        bodies = {n: pipeline_body(n, namespace, store) for n in names}
        created: dict[str, float] = {}
        waiting = PeakSampler(port)
        t0 = time.monotonic()
        for n in names:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "alignmentpipelines", bodies[n])
            created[n] = time.monotonic()
        created_all = time.monotonic() - t0
        if not finished.wait(len(names), args.timeout):
            raise SystemExit(
                f"timed out: {len(finished.at)}/{len(names)} pipelines finished; log: {operator.log}"
            )
        elapsed = time.monotonic() - t0
        cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        failed = [n for n, (phase, _) in finished.at.items() if phase != "Succeeded"]
        # the operator posts Events from a background thread: let it drain before the idle window
        before_idle, settle = scrape(port), time.monotonic()
        while time.monotonic() - settle < 600:
            time.sleep(2.0)
            now_count = scrape(port)
            if sum(now_count.values()) == sum(before_idle.values()):
                break
            before_idle = now_count
        drained = time.monotonic() - t0
        time.sleep(args.idle)
        after_idle = scrape(port)
        requests = sum(before_idle.values())
        idle_requests = sum(after_idle.values()) - requests
        peak = rss_peak_mb(operator.proc.pid)
        waiting.stop.set()
        dropped = sum(scrape(port, "pro_operator_events_dropped_total ").values())

        latencies, admissions, runs = [], [], []
        for n in names:
            c = compose(AlignmentPipeline.model_validate(bodies[n]))
            first_job = min(
                executor.created[s.resource.metadata.name]
                for s in c.stages
                if not c.graph.by_name[s.name].needs
            )
            admissions.append(first_job - created[n])
            runs.append(finished.at[n][1] - created[n])
            for stage in c.stages:
                needs = c.graph.by_name[stage.name].needs
                if not needs:
                    continue
                ready = max(executor.succeeded[c.stage(x).resource.metadata.name] for x in needs)
                latencies.append(executor.created[stage.resource.metadata.name] - ready)
        p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
        by_verb: dict[str, float] = {}
        for key, value in before_idle.items():
            verb = key.split('verb="')[1].split('"')[0]
            resource = key.split('resource="')[1].split('"')[0]
            by_verb[f"{verb} {resource}"] = by_verb.get(f"{verb} {resource}", 0) + value
        posted = by_verb.get("create events", 0)
        rows = {
            "pipelines succeeded": f"{len(names) - len(failed)}/{len(names)}",
            "wall time to create all / to finish all": f"{created_all:.1f} s / {elapsed:.1f} s",
            "… until the operator's last request (Events drained)": f"{drained:.1f} s",
            "baseline: one transition's requests back to back, no operator (median of 20)": f"{floor * 1000:.0f} ms",
            "stage-transition latency p50": f"{p50 * 1000:.0f} ms ({p50 / floor:.1f}× baseline)",
            "stage-transition latency p99": f"{p99 * 1000:.0f} ms ({p99 / floor:.1f}× baseline)",
            "stage-transition latency max": f"{max(latencies) * 1000:.0f} ms",
            "admission (created → first job) p50 / p99": f"{statistics.median(admissions):.1f} s / {pct(admissions, 0.99):.1f} s",
            "pipeline run time (created → Succeeded) p50 / p99": f"{statistics.median(runs):.1f} s / {pct(runs, 0.99):.1f} s",
            "operator peak RSS": f"{peak:.0f} MB",
            "operator API requests per pipeline": f"{requests / len(names):.1f}",
            f"operator API requests in {args.idle:.0f} s idle afterwards": f"{idle_requests:.0f}",
            "Events posted / dropped; most waiting at once (they wait while reconciles do)": f"{posted:.0f} / {dropped:.0f}; {waiting.peak:.0f}",
        }  # fmt: skip
        cpu = {name: cpu_after[name] - cpu_before[name] for name in pids}
        executor.watch.stop.set()
        finished.watch.stop.set()
        operator.stop()
        return Measured(rows, cpu, by_verb, len(names))
    finally:
        kube_harness.stop(cluster)


def main() -> None:
    from pro.testing import kube as kube_harness

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", type=int, default=50)
    ap.add_argument(
        "--backend",
        action="append",
        choices=list(JOB_KINDS),
        help="the job backend (repeat for several, side by side; default: PyTorchJob)",
    )
    ap.add_argument(
        "--idle", type=float, default=20.0, help="seconds watched after the last pipeline finished"
    )
    ap.add_argument("--workers", type=int, help="the operator's --workers (default: its own default)")
    ap.add_argument("--admission-workers", type=int, help="the operator's --admission-workers")
    ap.add_argument(
        "--max-running-jobs",
        type=int,
        default=0,
        help="the guardrails' maxRunningJobsPerNamespace (default 0: no limit, so that every transition "
        "is measured, not the queue; the chart's default is 20)",
    )
    ap.add_argument(
        "--python", default=sys.executable, help="the operator's interpreter, e.g. .venv-slim/bin/python"
    )
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    reason = kube_harness.unavailable_reason()
    if reason:
        raise SystemExit(reason)
    backends = list(dict.fromkeys(args.backend or ["PyTorchJob"]))
    runs = {b: measure(args, b) for b in backends}

    admission = f", --admission-workers {args.admission_workers}" if args.admission_workers else ""
    print(
        f"operator under load: {args.pipelines} pipelines × 7 stages, instant jobs, "
        f"{args.workers or 'default'} workers{admission}, at most {args.max_running_jobs or 'unlimited'} "
        f"running jobs, operator on {args.python}, each backend on a fresh API server\n"
    )
    head = "| measure | " + " | ".join(backends) + " |"
    rule = "|---|" + "---|" * len(backends)
    print(head + "\n" + rule)
    for key in runs[backends[0]].rows:
        print(f"| {key} | " + " | ".join(runs[b].rows[key] for b in backends) + " |")
    print("\n| CPU seconds while the pipelines ran (all on this machine's cores; per pipeline) | "
          + " | ".join(backends) + " |")  # fmt: skip
    print(rule)
    for name in runs[backends[0]].cpu:
        cells = [
            f"{runs[b].cpu.get(name, 0):.0f} ({runs[b].cpu.get(name, 0) / runs[b].pipelines * 1000:.0f} ms)"
            for b in backends
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n| requests (all pipelines; per pipeline) | " + " | ".join(backends) + " |")
    print(rule)
    keys = sorted(
        {k for b in backends for k in runs[b].requests},
        key=lambda k: -max(runs[b].requests.get(k, 0) for b in backends),
    )
    for k in keys:
        cells = [
            f"{runs[b].requests.get(k, 0):.0f} ({runs[b].requests.get(k, 0) / runs[b].pipelines:.1f})"
            for b in backends
        ]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
