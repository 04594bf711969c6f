"""The Helm chart, linted and rendered by the real Helm engine (helm-python-sdk, offline)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

helm = pytest.importorskip("helm_python")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "pro-pipeline"
RELEASE, NAMESPACE = "pro-pipeline", "pro-system"
Obj = dict[str, Any]


def render(values: Obj | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE) -> list[Obj]:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values or {}, name=name, namespace=namespace)
    return [
        doc
        for path, text in sorted(out.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def notes(values: Obj | None = None) -> str:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return out[f"{CHART.name}/templates/NOTES.txt"]


def by_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[Obj], kind: str) -> Obj:
    found = by_kind(objs, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def container(objs: list[Obj]) -> Obj:
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return dict(c)


# ----------------------------------------------------------------------------- chart metadata
def test_lint_strict_passes_for_defaults_and_the_matrix() -> None:
    for values in (
        None,
        {"scope": "namespaces", "watchNamespaces": ["a", "b"]},
        {"exampleSchedule": {"enabled": True}},
        {"replicaCount": 1, "leaderElection": {"enabled": False}},
    ):
        report = helm.lint(CHART, values, strict=True)
        assert report["errors"] == [], report
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_version_and_app_version_follow_the_project() -> None:
    from pro.version import __version__

    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["version"] == __version__ and meta["appVersion"] == __version__
    assert container(render())["image"] == f"ghcr.io/pro-pipeline/operator:{__version__}"


def test_the_chart_crds_are_the_generated_ones() -> None:
    generated = {
        p.name: p.read_bytes() for p in (ROOT / "manifests" / "crds").glob("pro.alignment.dev_*.yaml")
    }
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").iterdir()}
    assert len(generated) == 6
    assert shipped == generated, (
        "run make crds (it copies manifests/crds/pro.alignment.dev_*.yaml to helm/pro-pipeline/crds/)"
    )
    with helm.Chart.load(CHART) as chart:
        names = {yaml.safe_load(c["data"])["metadata"]["name"] for c in chart.crds}
    assert "alignmentpipelines.pro.alignment.dev" in names and len(names) == 6
    # CRDs live in crds/ only (kept on uninstall), never in templates
    assert not by_kind(render(), "CustomResourceDefinition")


def test_every_key_of_values_yaml_has_a_comment_above_it() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    missing = []
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z][\w.-]*:", line):
            above = lines[i - 1].strip() if i else ""
            if not above.startswith("#"):
                missing.append(line.strip())
    assert missing == []


def test_the_schema_accepts_the_defaults_and_every_example_value() -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema({})
        chart.validate_schema(
            {
                "scope": "namespaces",
                "watchNamespaces": ["team-a"],
                "image": {"repository": "registry.example.com:5000/pro/operator", "tag": "0.1.0-rc.1"},
                "s3": {
                    "credentialsSecret": "pro-s3",
                    "region": "eu-west-1",
                    "endpointUrl": "http://minio:9000",
                },
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/pro"}},
                "exampleSchedule": {"enabled": True, "schedule": "@daily"},
                "jobBackend": "TrainJob",
                "trainingRuntime": "pro-torch",
                "replicaCount": 3,
                "leaderElection": {
                    "enabled": True,
                    "leaseDuration": 30,
                    "renewDeadline": 20,
                    "retryPeriod": 2.5,
                },
            }
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scope": "everywhere"}, "at '/scope': value must be one of 'cluster', 'namespaces'"),
        ({"scope": "namespaces"}, "at '/watchNamespaces': minItems: got 0, want 1"),
        ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
        ({"workers": 0}, "at '/workers': minimum: got 0, want 1"),
        ({"admissionWorkers": 0}, "at '/admissionWorkers': minimum: got 0, want 1"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy': value must be one of 'Always'"),
        ({"image": {"tag": "has space"}}, "at '/image/tag': 'has space' does not match pattern"),
        ({"metrics": {"port": 70000}}, "at '/metrics/port': maximum: got 70,000, want 65,535"),
        ({"logFormat": "xml"}, "at '/logFormat': value must be one of 'json', 'plain'"),
        ({"jobBackend": "MPIJob"}, "at '/jobBackend': value must be one of 'auto', 'PyTorchJob', 'TrainJob'"),
        (
            {"trainingRuntime": "Torch_Distributed"},
            "at '/trainingRuntime': 'Torch_Distributed' does not match",
        ),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"replicaCount": -1}, "at '/replicaCount': minimum: got -1, want 0"),
        (
            {"leaderElection": {"leaseDuration": 15.5}},
            "at '/leaderElection/leaseDuration': got number, want integer",
        ),
        (
            {"leaderElection": {"retryPeriod": 0}},
            "at '/leaderElection/retryPeriod': exclusiveMinimum: got 0, want 0",
        ),
        (
            {"leaderElection": {"leaseDurationSeconds": 15}},
            "additional properties 'leaseDurationSeconds' not allowed",
        ),
        ({"s3": {"endpointUrl": "minio:9000"}}, "at '/s3/endpointUrl': 'minio:9000' does not match pattern"),
        (
            {"exampleSchedule": {"schedule": "daily"}},
            "at '/exampleSchedule/schedule': 'daily' does not match",
        ),
    ],
)
def test_bad_values_fail_the_schema_with_a_clear_message(values: Obj, message: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as err:
        chart.validate_schema(values)
    assert message in str(err.value)
    with pytest.raises(helm.HelmError, match=re.escape(message)):  # and an install's render fails alike
        render(values)


# ----------------------------------------------------------------------------- default render
def test_default_render_is_cluster_wide_with_exactly_the_operators_rules() -> None:
    from pro_operator import rbac

    objs = render()
    assert sorted(o["kind"] for o in objs) == sorted(
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "Role",  # the leader election's, in the release namespace
            "RoleBinding",
            "PodDisruptionBudget",
            "ConfigMap",  # the guardrails
        ]
    )
    role = one(objs, "ClusterRole")
    assert role["rules"] == rbac.rules(cluster_wide=True)
    assert not any("*" in v for r in role["rules"] for k in ("apiGroups", "resources", "verbs") for v in r[k])
    binding = one(objs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": RELEASE,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    assert one(objs, "ServiceAccount")["metadata"] == {
        **one(objs, "ServiceAccount")["metadata"],
        "name": RELEASE,
    }
    assert "--all-namespaces" in container(objs)["args"]


def test_the_operator_pod_is_locked_down_and_probed() -> None:
    objs = render()
    deploy = one(objs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert deploy["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == RELEASE
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(objs)
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]  # the only writable place
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert c["args"] == [
        "--all-namespaces",
        "--workers=4",
        "--metrics-port=9090",
        "--health-port=8080",
        "--job-backend=auto",
        "--training-runtime=torch-distributed",
        "--guardrails=/etc/pro-operator/guardrails.yaml",
        "--log-format=json",
        "--leader-elect",
        "--leader-elect-lease-duration=15",
        "--leader-elect-renew-deadline=10",
        "--leader-elect-retry-period=2",
        "--leader-elect-resource-name=pro-pipeline-leader",
    ]
    # the args are ones the operator's own parser accepts, in the mode the chart means
    from pro_operator.__main__ import build_parser

    parsed = build_parser().parse_args(c["args"])
    assert parsed.all_namespaces and parsed.metrics_port == 9090 and parsed.health_port == 8080
    assert (parsed.job_backend, parsed.training_runtime) == ("auto", "torch-distributed")
    svc = one(objs, "Service")
    assert svc["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert not any(e["name"].startswith("AWS_") for e in c["env"])


def test_the_guardrails_are_the_operators_model_and_reach_it_from_a_mounted_config_map() -> None:
    from pro.spec.guardrails import Guardrails, json_schema
    from pro.spec.loader import load_text, parse

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["guardrails"] == Guardrails().to_dict(), "values.yaml's guardrails: the model's defaults"
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())["properties"]["guardrails"]
    assert schema == json_schema(), "values.schema.json's guardrails: python -m pro.spec.guardrails"
    custom = {
        "allowedImages": ["registry.corp/ml/*"],
        "maxRunningJobsPerNamespace": 4,
        "pods": {"tmpSizeLimit": "5Gi"},
    }
    objs = render({"guardrails": custom})
    (cm,) = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"] == f"{RELEASE}-guardrails"]
    read = parse(Guardrails, load_text(cm["data"]["guardrails.yaml"], "guardrails.yaml"))
    assert read.allowed_images == ["registry.corp/ml/*"] and read.max_running_jobs_per_namespace == 4
    assert read.pods.tmp_size_limit == "5Gi" and read.pods.shm_size_limit == "16Gi"  # the rest: defaults
    assert read.credentials_secret_label == "pro.alignment.dev/credentials"
    deploy = one(objs, "Deployment")
    pod, c = deploy["spec"]["template"]["spec"], container(objs)
    assert "--guardrails=/etc/pro-operator/guardrails.yaml" in c["args"]
    assert {"name": "guardrails", "mountPath": "/etc/pro-operator", "readOnly": True} in c["volumeMounts"]
    assert {"name": "guardrails", "configMap": {"name": f"{RELEASE}-guardrails"}} in pod["volumes"]
    rolled = deploy["spec"]["template"]["metadata"]["annotations"]["checksum/guardrails"]
    default = one(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"][
        "checksum/guardrails"
    ]
    assert rolled != default  # other guardrails roll the operator, which reads them at start
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(Exception, match="allowedImage"):
            chart.validate_schema({"guardrails": {"allowedImage": ["*"]}})
        with pytest.raises(Exception, match="maxRunningJobsPerNamespace"):
            chart.validate_schema({"guardrails": {"maxRunningJobsPerNamespace": -1}})


# ----------------------------------------------------------------------------- the matrix
def test_namespaced_scope_grants_roles_only_in_the_watched_namespaces() -> None:
    from pro_operator import rbac
    from pro_operator.__main__ import build_parser

    objs = render({"scope": "namespaces", "watchNamespaces": ["team-a", "team-b"]})
    assert not by_kind(objs, "ClusterRole") and not by_kind(objs, "ClusterRoleBinding")
    roles = [r for r in by_kind(objs, "Role") if r["metadata"]["name"] == RELEASE]
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    for role in roles:
        assert role["rules"] == rbac.rules(cluster_wide=False)
    bindings = [b for b in by_kind(objs, "RoleBinding") if b["metadata"]["name"] == RELEASE]
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    for b in bindings:
        assert b["roleRef"]["kind"] == "Role"
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    args = container(objs)["args"]
    assert args[:4] == ["-n", "team-a", "-n", "team-b"] and "--all-namespaces" not in args
    assert build_parser().parse_args(args).namespace == ["team-a", "team-b"]
    assert "watching: team-a, team-b" in notes(
        {"scope": "namespaces", "watchNamespaces": ["team-a", "team-b"]}
    )


def test_workers_and_admission_workers_reach_the_operator() -> None:
    from pro_operator.__main__ import build_parser

    c = container(render({"workers": 6, "admissionWorkers": 2}))
    assert "--workers=6" in c["args"] and "--admission-workers=2" in c["args"]
    parsed = build_parser().parse_args(c["args"])
    assert parsed.workers == 6 and parsed.admission_workers == 2
    assert not any(a.startswith("--admission-workers") for a in container(render())["args"])


def test_the_job_backend_and_the_runtime_reach_the_operator_and_the_notes() -> None:
    from pro_operator.__main__ import build_parser

    values = {"jobBackend": "TrainJob", "trainingRuntime": "pro-torch"}
    parsed = build_parser().parse_args(container(render(values))["args"])
    assert (parsed.job_backend, parsed.training_runtime) == ("TrainJob", "pro-torch")
    text = notes(values)
    assert (
        "Stages run as TrainJobs on runtime pro-torch unless a pipeline sets spec.kubernetes.jobBackend"
        in text
    )
    assert "kubectl get rmt,adt,pal,trainjobs" in text
    auto = notes()
    assert "Kubeflow Trainer v2.3: the TrainJob CRD" in auto and "Kubeflow Training Operator v1.9" in auto
    assert "Stages run as PyTorchJobs where the cluster serves that CRD, else as TrainJobs" in auto
    assert "Kubernetes >= 1.25" in auto


# ----------------------------------------------------------------------------- leader election
def election(objs: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """The leader election's Roles and RoleBindings."""
    named = f"{RELEASE}-leader-election"
    return (
        [r for r in by_kind(objs, "Role") if r["metadata"]["name"] == named],
        [b for b in by_kind(objs, "RoleBinding") if b["metadata"]["name"] == named],
    )


@pytest.mark.parametrize("scope", [{}, {"scope": "namespaces", "watchNamespaces": ["team-a"]}])
def test_two_replicas_elect_a_leader_on_a_lease_in_the_release_namespace(scope: Obj) -> None:
    from pro_operator import rbac
    from pro_operator.__main__ import build_parser
    from pro_operator.leader import Timing

    objs = render(scope)
    deploy = one(objs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    # a new pod (a ready standby) starts before an old one stops, whose leader releases the Lease
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    parsed = build_parser().parse_args(container(objs)["args"])
    assert parsed.leader_elect and parsed.leader_elect_resource_name == f"{RELEASE}-leader"
    timing = Timing(
        parsed.leader_elect_lease_duration,
        parsed.leader_elect_renew_deadline,
        parsed.leader_elect_retry_period,
    )
    assert timing == Timing()  # controller-runtime's 15 / 10 / 2 s
    env = {e["name"]: e for e in container(objs)["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    (role,), (binding,) = election(objs)
    assert role["metadata"]["namespace"] == NAMESPACE and role["rules"] == rbac.election_rules()
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    assert not any(
        "leases" in r["resources"] for o in by_kind(objs, "ClusterRole") for r in o["rules"]
    )  # never cluster-wide
    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": deploy["spec"]["selector"]}
    pod = deploy["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"] == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": deploy["spec"]["selector"],
    }


def test_leader_election_timings_reach_the_operator_and_an_affinity_replaces_the_default() -> None:
    from pro_operator.__main__ import build_parser

    own = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    objs = render(
        {
            "replicaCount": 3,
            "leaderElection": {"leaseDuration": 30, "renewDeadline": 20, "retryPeriod": 2.5},
            "affinity": own,
        }
    )
    parsed = build_parser().parse_args(container(objs)["args"])
    assert (
        parsed.leader_elect_lease_duration,
        parsed.leader_elect_renew_deadline,
        parsed.leader_elect_retry_period,
    ) == (30, 20, 2.5)
    deploy = one(objs, "Deployment")
    assert deploy["spec"]["replicas"] == 3 and deploy["spec"]["template"]["spec"]["affinity"] == own


def test_without_leader_election_one_replica_is_replaced_never_doubled() -> None:
    objs = render({"replicaCount": 1, "leaderElection": {"enabled": False}})
    deploy = one(objs, "Deployment")
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"] == {"type": "Recreate"}
    assert not any(a.startswith("--leader-elect") for a in container(objs)["args"])
    assert election(objs) == ([], [])
    assert not by_kind(objs, "PodDisruptionBudget")  # one replica: a budget would block every drain
    assert not by_kind(render({"replicaCount": 1}), "PodDisruptionBudget")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"leaderElection": {"enabled": False}},
            "replicaCount 2 needs leaderElection.enabled: without it the replicas would act side by side",
        ),
        (
            {"leaderElection": {"leaseDuration": 10}},
            "leaderElection.leaseDuration (10) must be greater than leaderElection.renewDeadline (10)",
        ),
        (
            {"leaderElection": {"retryPeriod": 9}},
            "leaderElection.renewDeadline (10) must be greater than 1.2 × leaderElection.retryPeriod (9)",
        ),
    ],
)
def test_replicas_and_timings_that_could_let_two_operators_act_fail_the_install(
    values: Obj, message: str
) -> None:
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        render(values)


def test_metrics_off_drops_the_service_and_the_port() -> None:
    objs = render({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}})
    assert not by_kind(objs, "Service") and not by_kind(objs, "ServiceMonitor")
    c = container(objs)
    assert "--metrics-port=0" in c["args"]
    assert [p["name"] for p in c["ports"]] == ["health"]


def test_service_monitor_when_asked() -> None:
    objs = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
    sm = one(objs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert sm["spec"]["selector"]["matchLabels"] == one(objs, "Service")["spec"]["selector"]


def test_custom_image_and_release_name() -> None:
    objs = render(
        {"image": {"repository": "registry.example.com/pro/operator", "tag": "dev", "pullPolicy": "Always"}},
        name="alignment",
    )
    c = container(objs)
    assert c["image"] == "registry.example.com/pro/operator:dev" and c["imagePullPolicy"] == "Always"
    assert one(objs, "Deployment")["metadata"]["name"] == "alignment-pro-pipeline"
    assert one(objs, "ClusterRoleBinding")["subjects"][0]["name"] == "alignment-pro-pipeline"


def test_s3_credentials_from_a_secret_or_irsa() -> None:
    objs = render(
        {"s3": {"credentialsSecret": "pro-s3", "region": "us-east-1", "endpointUrl": "http://minio:9000"}}
    )
    env = {e["name"]: e for e in container(objs)["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {
        "secretKeyRef": {"name": "pro-s3", "key": "AWS_ACCESS_KEY_ID"}
    }
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert (
        env["AWS_REGION"]["value"] == "us-east-1"
        and env["AWS_ENDPOINT_URL_S3"]["value"] == "http://minio:9000"
    )
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pro"}
    sa = one(render({"serviceAccount": {"annotations": irsa}}), "ServiceAccount")
    assert sa["metadata"]["annotations"] == irsa


def test_an_existing_service_account() -> None:
    objs = render({"serviceAccount": {"create": False, "name": "ops-sa"}})
    assert not by_kind(objs, "ServiceAccount")
    assert one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "ops-sa"
    assert one(objs, "ClusterRoleBinding")["subjects"][0]["name"] == "ops-sa"
    with pytest.raises(helm.HelmError, match=r"serviceAccount\.name is required"):
        render({"serviceAccount": {"create": False}})


def test_the_example_schedule_is_the_sample_and_valid() -> None:
    from pro.spec.schedule import AlignmentSchedule

    objs = render({"exampleSchedule": {"enabled": True, "schedule": "@weekly", "namespace": "alignment"}})
    als = one(objs, "AlignmentSchedule")
    sample = yaml.safe_load(
        (ROOT / "manifests" / "samples" / "pro.alignment.dev_v1alpha1_alignmentschedule.yaml").read_text()
    )
    assert als["metadata"]["name"] == "ultrafeedback-nightly" and als["metadata"]["namespace"] == "alignment"
    assert als["spec"]["schedule"] == "@weekly" and als["spec"]["suspend"] is True
    assert als["spec"]["pipelineTemplate"] == sample["spec"]["pipelineTemplate"]
    assert {k: v for k, v in als["spec"].items() if k != "schedule"} == {
        k: v for k, v in sample["spec"].items() if k != "schedule"
    }
    AlignmentSchedule.model_validate(als)
    assert (CHART / "files" / "alignmentschedule.yaml").read_bytes() == (
        ROOT / "manifests" / "samples" / "pro.alignment.dev_v1alpha1_alignmentschedule.yaml"
    ).read_bytes()
    assert not by_kind(render(), "AlignmentSchedule")


def test_notes_tell_how_to_apply_and_watch_the_first_pipeline() -> None:
    text = notes()
    assert "kubectl apply -f examples/production/pipeline-ultrafeedback.yaml" in text
    assert "kubectl get alp -w" in text
    assert "kubectl apply --server-side -f helm/pro-pipeline/crds/" in text
    assert "rollout status deployment/pro-pipeline" in text
    assert "kubectl -n pro-system get lease pro-pipeline-leader -o jsonpath='{.spec.holderIdentity}'" in text
    assert "get lease" not in notes({"replicaCount": 1, "leaderElection": {"enabled": False}})
