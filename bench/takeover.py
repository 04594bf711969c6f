"""Leader-election takeover: how long an operator's pipelines wait when its leader goes away.

    .venv/bin/python bench/takeover.py [--rounds 5] [--lease-duration 15] [--renew-deadline 10]
                                       [--retry-period 2]

On a fresh kube-local API server with the operator's CRDs, two replicas (``--leader-elect``, the
given timings; controller-runtime's 15 / 10 / 2 s by default) take turns losing their leadership:

- **SIGKILL** — a crash, an OOM kill, a lost node: the leader dies without a word; the standby takes
  over once the Lease has not changed for the lease duration;
- **SIGTERM** — a rolling update, a drain: the leader finishes its reconciles, posts its Events and
  releases the Lease; the standby takes over at its next retry.

After each, the killed or stopped replica is started again (a standby) before the next round.
Baseline, in the same run: **restart** — one operator without leader election, SIGKILLed and a new
process started at once: the least a restart costs without a standby (no node lost, nothing to
reschedule or pull; on a cluster Kubernetes adds its own delays, e.g. minutes to evict the pods of a
lost node).

Measured from the event: **lease** — until the Lease names the new holder (polled every 20 ms); **first
reconcile** — until a suspended AlignmentPipeline created right after the event reads ``Suspended``
(the new leader listed, reconciled it and wrote its status). Median, min and max of ``--rounds`` each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/<script>.py`: the repository root, so that `bench` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.operator import pipeline_body
from pro.spec.conventions import API_GROUP as GROUP
from pro.spec.conventions import API_VERSION as VERSION
from pro.testing.operator import lease_holder

LEASE = "pro-operator-leader"
NAMESPACE = "bench"


def wait(what: str, check: Callable[[], Any], timeout: float = 120.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


class Bench:
    """The API server's clients, and the operator replicas by name."""

    def __init__(self, kubeconfig: str, work: Path, args: argparse.Namespace) -> None:
        from kubernetes import client, config

        from pro.testing.operator import OperatorProcess

        self.api = config.new_client_from_config(config_file=kubeconfig)
        self.custom = client.CustomObjectsApi(self.api)
        self.store = f"file://{work / 'store'}"
        self.parked = 0
        self.retry = args.retry_period
        self.random = random.Random(args.seed)
        timing = (
            f"--leader-elect-lease-duration={args.lease_duration}",
            f"--leader-elect-renew-deadline={args.renew_deadline}",
            f"--leader-elect-retry-period={args.retry_period}",
        )
        env = {"POD_NAMESPACE": NAMESPACE}
        self.replicas = {
            name: OperatorProcess(
                kubeconfig,
                NAMESPACE,
                work / f"{name}.log",
                env={**env, "POD_NAME": name},
                args=("--leader-elect", *timing),
                python=args.python,
            )
            for name in ("op-a", "op-b")
        }
        self.alone = OperatorProcess(kubeconfig, NAMESPACE, work / "alone.log", python=args.python)

    def holder(self) -> str:
        return lease_holder(self.api, NAMESPACE, LEASE)

    def park(self) -> str:
        """Create a suspended pipeline (no job: a leader's reconcile only writes its status)."""
        self.parked += 1
        name = f"parked-{self.parked}"
        body = pipeline_body(name, NAMESPACE, self.store)
        body["spec"]["suspend"] = True
        self.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "alignmentpipelines", body)
        return name

    def reconciled(self, name: str) -> bool:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "alignmentpipelines", name)
        return (obj.get("status") or {}).get("phase") == "Suspended"

    def standing_by(self, name: str, settle: float) -> None:
        """Wait until replica ``name`` stands by (then ``settle`` s: it has seen the leader renew)."""
        op = self.replicas[name]
        wait(
            f"{name} standing by",
            lambda: "standing by" in op.log.read_text().rpartition("==== operator start")[2],
            every=0.1,
        )
        time.sleep(settle)

    def round(self, how: str, settle: float) -> tuple[float, float]:
        """One takeover, once the standby has stood by for ``settle`` s and a random part of a retry
        period (the event falls anywhere in the renewal cycle): the leader SIGKILLed or SIGTERMed;
        seconds until the new holder, and until the first reconcile of a pipeline created at once; the
        old leader is started again (the next round's standby)."""
        leader = wait("a leader", self.holder)
        other = "op-b" if leader == "op-a" else "op-a"
        self.standing_by(other, settle + self.random.uniform(0, self.retry))
        t0 = time.monotonic()
        if how == "SIGKILL":
            self.replicas[leader].kill()
        else:
            self.replicas[leader].stop()
        name = self.park()
        wait(f"{other} to lead", lambda: self.holder() == other, 120)
        lease = time.monotonic() - t0
        wait(f"{other} to reconcile {name}", lambda: self.reconciled(name), 120)
        first = time.monotonic() - t0
        self.replicas[leader].start()  # a standby for the next round
        return lease, first

    def restart(self) -> float:
        """The baseline: the lone operator (up and reconciling) SIGKILLed and started again at once;
        until its first reconcile."""
        t0 = time.monotonic()
        self.alone.kill()
        self.alone.start()
        name = self.park()
        wait(f"the restarted operator to reconcile {name}", lambda: self.reconciled(name), 120)
        return time.monotonic() - t0


def stats(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f})"


def main() -> None:
    from kubernetes import client

    from pro.testing import kube as kube_harness
    from pro.testing.kubeflow import install_kubeflow
    from pro.testing.operator import install_crds

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="takeovers of each kind (default: %(default)s)")
    ap.add_argument("--lease-duration", type=int, default=15)
    ap.add_argument("--renew-deadline", type=float, default=10.0)
    ap.add_argument("--retry-period", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0, help="of the moments the leader is stopped")
    ap.add_argument(
        "--python", default=sys.executable, help="the operator's interpreter, e.g. .venv-slim/bin/python"
    )
    args = ap.parse_args()
    reason = kube_harness.unavailable_reason()
    if reason:
        raise SystemExit(reason)
    work = Path(tempfile.mkdtemp(prefix="pro-bench-takeover-"))
    cluster = kube_harness.start(owner_pid=os.getpid())
    try:
        bench = Bench(cluster.kubeconfig, work, args)
        client.CoreV1Api(bench.api).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
        install_crds(bench.api)
        install_kubeflow(bench.api)

        # the baseline first, alone on the server
        bench.alone.start()
        up = bench.park()
        wait("the lone operator to reconcile", lambda: bench.reconciled(up), 120)
        restarts = [bench.restart() for _ in range(args.rounds)]
        bench.alone.stop()

        for op in bench.replicas.values():
            op.start()
        settle = 2 * args.retry_period
        results: dict[str, list[tuple[float, float]]] = {"SIGKILL": [], "SIGTERM": []}
        for _ in range(args.rounds):
            for how, rows in results.items():
                rows.append(bench.round(how, settle))
        for op in bench.replicas.values():
            op.stop()
    finally:
        kube_harness.stop(cluster)

    base = statistics.median(restarts)
    print(
        f"leader-election takeover: 2 replicas, lease {args.lease_duration} s, renew deadline "
        f"{args.renew_deadline:g} s, retry {args.retry_period:g} s; {args.rounds} rounds each; median (min–max)\n"
    )
    print("| event | until the Lease names the new leader | until its first reconcile | vs restart |")
    print("|---|---|---|---|")
    for how, rows in results.items():
        leases, firsts = [r[0] for r in rows], [r[1] for r in rows]
        what = (
            "leader SIGKILLed (crash, lost node)" if how == "SIGKILL" else "leader SIGTERMed (upgrade, drain)"
        )
        print(f"| {what} | {stats(leases)} | {stats(firsts)} | {statistics.median(firsts) / base:.1f}× |")
    print(
        f"| baseline: one operator, no election, SIGKILLed and restarted at once | – | {stats(restarts)} | 1.0× |"
    )


if __name__ == "__main__":
    main()
