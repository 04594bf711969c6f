"""The operator under load: N concurrent pipelines whose jobs complete instantly, on the local
kube-apiserver.

    .venv/bin/python bench/operator.py [--pipelines 50] [--idle 20] [--workers 8]

An "instant" executor stands in for Kubeflow: for each new PyTorchJob it commits the stage's artifact
(a ``file://`` store, with the job's work digest) and marks the job Succeeded.  Measured: stage-transition
latency (job marked Succeeded → the next stage's job created, as seen on the watch stream; for a stage
with several inputs, from the last of them), the operator's peak RSS, and the operator's Kubernetes API
requests per pipeline (its own counter), plus the requests made while idle afterwards (none expected:
the operator does not poll).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

GROUP, VERSION = "pro.alignment.dev", "v1alpha1"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "toy" / "pipeline.yaml"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class InstantExecutor:
    """Completes every labelled PyTorchJob at once: commits its artifact, then patches it Succeeded."""

    def __init__(self, api: Any, namespace: str, threads: int = 8) -> None:
        from kubernetes import client

        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.pool = ThreadPoolExecutor(threads)
        self.succeeded: dict[str, float] = {}  # stage resource name → when its job was marked Succeeded
        self.created: dict[str, float] = {}  # stage resource name → when its first job was seen
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rv: str | None = None
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> InstantExecutor:
        self.thread.start()
        return self

    def _watch(self) -> None:
        from kubernetes import watch

        while not self.stop.is_set():
            try:
                self._stream(watch.Watch())
            except Exception:  # a dropped stream: open another (after the run: just stop)
                if self.stop.is_set():
                    return

    def _stream(self, w: Any) -> None:
        kwargs: dict[str, Any] = {"timeout_seconds": 30}
        if self.rv:
            kwargs["resource_version"] = self.rv
        for ev in w.stream(
            self.custom.list_namespaced_custom_object,
            "kubeflow.org",
            "v1",
            self.namespace,
            "pytorchjobs",
            **kwargs,
        ):
            obj = ev["object"]
            self.rv = obj["metadata"]["resourceVersion"]
            if ev["type"] == "ADDED" and not (obj.get("status") or {}).get("conditions"):
                owner = obj["metadata"]["ownerReferences"][0]["name"]
                with self.lock:
                    self.created.setdefault(owner, time.monotonic())
                self.pool.submit(self._complete, obj)
            if self.stop.is_set():
                return

    def _complete(self, job: dict[str, Any]) -> None:
        from pro.planner.compose import WORK_DIGEST
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
                spec_digest=meta["annotations"][WORK_DIGEST],
            )
        t = now_iso()
        status = {
            "conditions": [
                {"type": "Created", "status": "True", "reason": "PyTorchJobCreated", "lastTransitionTime": t},
                {
                    "type": "Running",
                    "status": "False",
                    "reason": "PyTorchJobSucceeded",
                    "lastTransitionTime": t,
                },
                {
                    "type": "Succeeded",
                    "status": "True",
                    "reason": "PyTorchJobSucceeded",
                    "lastTransitionTime": t,
                },
            ],
            "startTime": t,
            "completionTime": t,
            "replicaStatuses": {"Master": {"succeeded": 1}},
        }
        self.custom.patch_namespaced_custom_object_status(
            "kubeflow.org", "v1", self.namespace, "pytorchjobs", meta["name"], {"status": status}
        )
        with self.lock:
            self.succeeded[owner["name"]] = time.monotonic()


def pipeline_body(name: str, namespace: str, store: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"] = {"name": name, "namespace": namespace}
    doc["spec"]["storage"] = {"uri": store}
    doc["spec"]["retry"] = {"limit": 0}
    return doc


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("pro_operator_api_requests_total{"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from kubernetes import client, config

    from pro.planner.compose import compose
    from pro.spec.pipeline import AlignmentPipeline
    from pro.testing import kube as kube_harness
    from pro.testing.jobexec import install_crd
    from pro.testing.operator import OperatorProcess, install_crds
    from pro.testing.s3server import free_port

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", type=int, default=50)
    ap.add_argument(
        "--idle", type=float, default=20.0, help="seconds watched after the last pipeline finished"
    )
    ap.add_argument("--workers", type=int, default=8, help="the operator's concurrent reconciles")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pro-bench-operator-"))
    reason = kube_harness.unavailable_reason()
    if reason:
        raise SystemExit(reason)
    cluster = kube_harness.start(owner_pid=os.getpid())
    try:
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        namespace = "bench"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        install_crds(api)
        install_crd(api)
        port = free_port()
        operator = OperatorProcess(
            cluster.kubeconfig,
            namespace,
            work / "operator.log",
            args=("--metrics-port", str(port), "--workers", str(args.workers)),
        )
        # OperatorProcess passes --metrics-port 0 first; the later flag wins (argparse keeps the last)
        operator.start()
        executor = InstantExecutor(api, namespace).start()
        time.sleep(3)  # the operator's watches are up

        store = f"file://{work / 'store'}"
        names = [f"bench-{i}" for i in range(args.pipelines)]
        bodies = {n: pipeline_body(n, namespace, store) for n in names}
        t0 = time.monotonic()
        for n in names:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "alignmentpipelines", bodies[n])
        created_all = time.monotonic() - t0

        def done() -> int:
            items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "alignmentpipelines")[
                "items"
            ]
            return sum(1 for i in items if (i.get("status") or {}).get("phase") in ("Succeeded", "Failed"))

        while done() < len(names):
            if time.monotonic() - t0 > args.timeout:
                raise SystemExit(f"timed out: {done()}/{len(names)} pipelines finished; log: {operator.log}")
            time.sleep(1.0)
        elapsed = time.monotonic() - t0
        items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "alignmentpipelines")["items"]
        failed = [i["metadata"]["name"] for i in items if i["status"]["phase"] != "Succeeded"]
        # the operator posts Events from a background thread: let it drain before the idle window
        before_idle, settle = scrape(port), time.monotonic()
        while time.monotonic() - settle < 120:
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
        peak = rss_peak_mb(operator.proc.pid) if operator.proc else float("nan")

        latencies = []
        for n in names:
            c = compose(AlignmentPipeline.model_validate(bodies[n]))
            for stage in c.stages:
                needs = c.graph.by_name[stage.name].needs
                if not needs:
                    continue
                ready = max(executor.succeeded[c.stage(x).resource.metadata.name] for x in needs)
                latencies.append(executor.created[stage.resource.metadata.name] - ready)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        by_verb: dict[str, float] = {}
        for key, value in before_idle.items():
            verb = key.split('verb="')[1].split('"')[0]
            resource = key.split('resource="')[1].split('"')[0]
            by_verb[f"{verb} {resource}"] = by_verb.get(f"{verb} {resource}", 0) + value

        print(
            f"operator under load: {args.pipelines} pipelines × 7 stages, instant jobs, {args.workers} workers\n"
        )
        print("| measure | value |")
        print("|---|---|")
        print(f"| pipelines succeeded | {len(names) - len(failed)}/{len(names)} |")
        print(f"| wall time to create all / to finish all | {created_all:.1f} s / {elapsed:.1f} s |")
        print(f"| … until the operator's last request (Events drained) | {drained:.1f} s |")
        print(f"| stage-transition latency p50 | {p50 * 1000:.0f} ms |")
        print(f"| stage-transition latency p99 | {p99 * 1000:.0f} ms |")
        print(f"| stage-transition latency max | {latencies[-1] * 1000:.0f} ms |")
        print(f"| operator peak RSS | {peak:.0f} MB |")
        print(f"| operator API requests per pipeline | {requests / len(names):.1f} |")
        print(f"| operator API requests in {args.idle:.0f} s idle afterwards | {idle_requests:.0f} |")
        print("\n| requests (all pipelines) | count | per pipeline |")
        print("|---|---|---|")
        for k, v in sorted(by_verb.items(), key=lambda kv: -kv[1]):
            print(f"| {k} | {v:.0f} | {v / len(names):.1f} |")
        executor.stop.set()
        operator.stop()
    finally:
        kube_harness.stop(cluster)


if __name__ == "__main__":
    main()
