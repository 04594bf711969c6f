"""``pro-operator`` / ``python -m pro_operator``: run the operator."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pro_operator.leader import DEFAULT_LEASE_NAME, Timing

EXAMPLES = """\
examples:
  pro-operator --all-namespaces                  # cluster-wide (a ClusterRole)
  pro-operator -n team-a -n team-b               # only these namespaces (Roles)
  pro-operator --kubeconfig ~/.kube/config -n default --metrics-port 0
  pro-operator -A --job-backend TrainJob --training-runtime torch-distributed
  pro-operator -A --leader-elect                 # one of several replicas (POD_NAMESPACE: the Lease's)
"""

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pro-operator",
        description="Run the pro-pipeline operator: AlignmentPipelines, their stages as Kubeflow jobs "
        "(PyTorchJobs or TrainJobs), and AlignmentSchedules.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "-n", "--namespace", action="append", metavar="NS", help="watch this namespace (repeatable)"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    p.add_argument("--kubeconfig", metavar="FILE", help="default: in-cluster, else $KUBECONFIG")
    p.add_argument(
        "--workers",
        type=int,
        default=4,
        help="concurrent reconciles; more is not faster, they share the API server (default: %(default)s)",
    )
    p.add_argument(
        "--admission-workers",
        type=int,
        metavar="N",
        help="of those, how many may start new pipelines at once; work on running pipelines always goes "
        "first (default: a quarter of --workers, at least 1)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        help="Prometheus /metrics port, 0 = off (default: %(default)s)",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=8080,
        help="liveness/readiness /healthz port, 0 = off (default: %(default)s)",
    )
    p.add_argument(
        "--job-backend",
        choices=("auto", "PyTorchJob", "TrainJob"),
        default="auto",
        help="the job a stage left on jobBackend: auto runs as; auto: PyTorchJob when the cluster serves "
        "its CRD, else TrainJob (default: %(default)s)",
    )
    p.add_argument(
        "--training-runtime",
        metavar="NAME",
        default="torch-distributed",
        help="the runtime a TrainJob names when its stage names none (default: %(default)s)",
    )
    election = p.add_argument_group(
        "leader election", "several replicas, one acting: a coordination.k8s.io/v1 Lease (client-go's rules)"
    )
    election.add_argument(
        "--leader-elect",
        action="store_true",
        help="reconcile only while holding the Lease; stand by (watching, writing nothing) otherwise",
    )
    election.add_argument(
        "--leader-elect-lease-duration",
        type=int,
        metavar="SECONDS",
        default=15,
        help="a standby takes the Lease over once it has not changed for this long (default: %(default)s)",
    )
    election.add_argument(
        "--leader-elect-renew-deadline",
        type=float,
        metavar="SECONDS",
        default=10.0,
        help="the leader stops and exits when it could not renew for this long (default: %(default)g)",
    )
    election.add_argument(
        "--leader-elect-retry-period",
        type=float,
        metavar="SECONDS",
        default=2.0,
        help="how often each replica tries to acquire or renew (default: %(default)g)",
    )
    election.add_argument(
        "--leader-elect-resource-name",
        metavar="NAME",
        default=DEFAULT_LEASE_NAME,
        help="the Lease (default: %(default)s)",
    )
    election.add_argument(
        "--leader-elect-resource-namespace",
        metavar="NS",
        help="the Lease's namespace (default: $POD_NAMESPACE, else the pod's own namespace)",
    )
    p.add_argument(
        "--guardrails",
        metavar="FILE",
        help="what pro resources may ask of the cluster (images, ServiceAccounts, credentials Secrets, "
        "tolerations, PriorityClasses, node-selector keys, running jobs per namespace) and how stage pods "
        "are hardened: a YAML file of the chart's guardrails values (default: the chart's defaults)",
    )
    p.add_argument("--log-format", choices=("json", "plain"), default="json", help="default: %(default)s")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def own_namespace() -> str | None:
    """The operator's own namespace: ``POD_NAMESPACE`` (the chart sets it), else its pod's service
    account's."""
    found = os.environ.get("POD_NAMESPACE")
    if found:
        return found
    try:
        return Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or None
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.admission_workers is not None and not 1 <= args.admission_workers <= args.workers:
        parser.error(
            f"--admission-workers must be between 1 and --workers ({args.workers}), got {args.admission_workers}"
        )
    timing, lease_namespace = None, None
    if args.leader_elect:
        try:
            timing = Timing(
                args.leader_elect_lease_duration,
                args.leader_elect_renew_deadline,
                args.leader_elect_retry_period,
            )
        except ValueError as err:
            parser.error(f"leader election: {err}")
        lease_namespace = args.leader_elect_resource_namespace or own_namespace()
        if not lease_namespace:
            parser.error(
                "--leader-elect needs the Lease's namespace: --leader-elect-resource-namespace, $POD_NAMESPACE, "
                "or a pod's service account"
            )
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    from pro.spec import SpecError
    from pro.spec.guardrails import Guardrails
    from pro.spec.loader import load_file

    try:
        guardrails = load_file(args.guardrails, Guardrails) if args.guardrails else Guardrails()
    except SpecError as err:
        print(f"pro-operator: --guardrails {err}", file=sys.stderr)
        return 2
    import kopf

    from pro_operator import metrics
    from pro_operator.backends import discover
    from pro_operator.handlers import Runtime, client, register
    from pro_operator.identity import own_identity
    from pro_operator.kube import KubeError
    from pro_operator.leader import Elector

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    if not args.verbose:  # kopf logs every handled watch event at INFO ("Handler … succeeded.")
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    in_cluster = args.kubeconfig is None  # a kubeconfig named on the command line wins
    try:
        kube = client(in_cluster=in_cluster, connections=args.workers + 4)
    except kopf.LoginError as err:
        print(f"pro-operator: cannot log in to the Kubernetes API: {err}", file=sys.stderr)
        return 1
    try:
        jobs = discover(kube, preferred=args.job_backend, runtime=args.training_runtime)
    except KubeError as err:
        print(
            f"pro-operator: cannot ask the API server which Kubeflow jobs it serves: {err}", file=sys.stderr
        )
        return 1
    logging.getLogger("pro_operator").info("%s", jobs.describe())
    identity = own_identity()
    elector = None
    if timing is not None and lease_namespace:
        elector = Elector(kube, lease_namespace, args.leader_elect_resource_name, identity, timing)
    logging.getLogger("pro_operator").info("guardrails: %s", guardrails.summary())
    runtime = Runtime(
        kube,
        workers=args.workers,
        admission_workers=args.admission_workers,
        namespaces=None if args.all_namespaces else args.namespace,
        in_cluster=in_cluster,
        jobs=jobs,
        elector=elector,
        guardrails=guardrails,
    )
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    metrics.serve(args.metrics_port)
    kopf.run(
        registry=registry,
        standalone=True,
        identity=identity,  # type: ignore[arg-type]  # kopf's default asks the passwd database
        clusterwide=args.all_namespaces,
        namespaces=args.namespace or [],
        liveness_endpoint=f"http://0.0.0.0:{args.health_port}/healthz" if args.health_port else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
