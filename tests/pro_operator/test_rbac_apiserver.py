"""Least privilege on a real API server: the chart's rendered RBAC (namespaced scope) is applied, the
operator runs with a token of the chart's ServiceAccount (not the admin's), electing itself leader on
the chart's Lease, and runs a pipeline end to end; with one rule removed it fails with a Forbidden message
naming the verb and the resource."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner.compose import compose
from pro.spec.pipeline import AlignmentPipeline
from pro.testing.operator import Cluster, install_crds, operated
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc, small_world

pytestmark = pytest.mark.integration

helm = pytest.importorskip("helm_python")

CHART = Path(__file__).resolve().parents[2] / "helm" / "pro-pipeline"
RELEASE = "pro-pipeline"
Obj = dict[str, Any]


def chart_rbac(namespace: str) -> list[Obj]:
    """ServiceAccount, Roles and RoleBindings of the chart, scope ``namespaces`` watching ``namespace``,
    released there (so the leader election's Role is there too)."""
    with helm.Chart.load(CHART) as chart:
        out = chart.render(
            {"scope": "namespaces", "watchNamespaces": [namespace]}, name=RELEASE, namespace=namespace
        )
    objs = [d for p, t in sorted(out.items()) if p.endswith(".yaml") for d in yaml.safe_load_all(t) if d]
    picked = [o for o in objs if o["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    assert sorted(o["kind"] for o in picked) == [
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "ServiceAccount",
    ]
    assert not [o for o in objs if o["kind"].startswith("Cluster")]
    return picked


def without(objs: list[Obj], group: str, resource: str, verb: str) -> list[Obj]:
    """The objects with ``verb`` on ``group/resource`` taken out of the watched namespace's Role (the rule
    split if needed)."""
    out = copy.deepcopy(objs)
    role = next(o for o in out if o["kind"] == "Role" and o["metadata"]["name"] == RELEASE)
    rules = []
    for rule in role["rules"]:
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            others = [r for r in rule["resources"] if r != resource]
            if others:
                rules.append({**rule, "resources": others})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({**rule, "resources": [resource], "verbs": verbs})
        else:
            rules.append(rule)
    assert rules != role["rules"], f"no rule grants {verb} {resource}"
    role["rules"] = rules
    return out


def apply(api_client: Any, objs: list[Obj]) -> None:
    from kubernetes import utils

    for obj in objs:
        utils.create_from_dict(api_client, obj)


def service_account_kubeconfig(admin_kubeconfig: str, core: Any, namespace: str, out: Path) -> Path:
    """A kubeconfig with a token of the chart's ServiceAccount (TokenRequest API), same server and CA."""
    sa = RELEASE
    token = None
    try:
        req = core.create_namespaced_service_account_token(
            sa, namespace, {"spec": {"expirationSeconds": 3600}}
        )
        token = req.status.token
    except Exception:  # older servers: the token Secret the controller-manager made for the SA
        import base64
        import time

        for _ in range(100):
            secrets = core.read_namespaced_service_account(sa, namespace).secrets or []
            if secrets:
                data = core.read_namespaced_secret(secrets[0].name, namespace).data
                token = base64.b64decode(data["token"]).decode()
                break
            time.sleep(0.1)
    assert token, "no ServiceAccount token"
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "pro-operator", "user": {"token": token}}],
        "contexts": [
            {
                "name": "pro-operator",
                "context": {"cluster": cluster["name"], "user": "pro-operator", "namespace": namespace},
            }
        ],
        "current-context": "pro-operator",
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_world(tmp_path_factory.mktemp("world") / "toy")


@pytest.fixture
def rbac_cluster(  # noqa: PLR0917 - pytest fixtures
    request: pytest.FixtureRequest,
    kube_cluster: Any,
    kube_namespace: Any,
    s3_env: dict[str, str],
    s3_bucket: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """The operator under the chart's RBAC (``request.param``: a rule to take out, or None)."""
    from kubernetes import config

    core, namespace = kube_namespace
    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_crds(api)
    objs = chart_rbac(namespace)
    removed = getattr(request, "param", None)
    apply(api, without(objs, *removed) if removed else objs)
    sa_config = service_account_kubeconfig(
        kube_cluster.kubeconfig, core, namespace, tmp_path / "sa-kubeconfig"
    )
    try:
        with operated(
            kube_cluster.kubeconfig, namespace, api=api, core=core, bucket=s3_bucket, workdir=tmp_path,
            s3_env=s3_env, operator_kubeconfig=str(sa_config), operator_env={"POD_NAMESPACE": namespace},
            operator_args=("--leader-elect", f"--leader-elect-resource-name={RELEASE}-leader"),
        ) as running:  # fmt: skip
            yield running
    finally:
        api.close()


def log_of(cluster: Cluster) -> str:
    return cluster.operator.log.read_text() if cluster.operator.log.exists() else ""


def test_the_operator_token_is_really_restricted(rbac_cluster: Cluster) -> None:
    """The token the operator runs with cannot do what the chart does not grant."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    sa_api = config.new_client_from_config(config_file=str(rbac_cluster.workdir / "sa-kubeconfig"))
    try:
        core = client.CoreV1Api(sa_api)
        core.list_namespaced_config_map  # noqa: B018 - the API exists
        with pytest.raises(ApiException) as err:
            core.list_namespaced_secret(rbac_cluster.namespace)
        assert err.value.status == 403
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default")  # another namespace
        assert err.value.status == 403
        pods = core.list_namespaced_pod(rbac_cluster.namespace)  # granted
        assert pods.items == []
    finally:
        sa_api.close()


def test_a_pipeline_runs_end_to_end_with_only_the_charts_rbac(rbac_cluster: Cluster, toy: Path) -> None:
    cluster = rbac_cluster
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", MINIMAL, name="least")
    doc["metadata"]["namespace"] = cluster.namespace
    doc["spec"]["retry"] = {"limit": 1, "backoffSeconds": 1}
    cluster.create("alignmentpipelines", doc)
    cluster.wait(
        "the pipeline to finish",
        lambda: cluster.phase("alignmentpipelines", "least") in ("Succeeded", "Failed"),
        600,
    )
    status = cluster.get("alignmentpipelines", "least")["status"]
    assert status["phase"] == "Succeeded", status
    c = compose(AlignmentPipeline.model_validate(doc))
    assert all(s["phase"] == "Succeeded" for s in status["stages"])
    assert len(cluster.jobs()) == len(c.stages)
    reasons = [r for r, _ in cluster.events_until("least", "PipelineSucceeded")]
    assert "PipelineSucceeded" in reasons  # Kube.event under the Role
    from kubernetes import client

    lease = client.CoordinationV1Api(cluster.core.api_client).read_namespaced_lease(
        f"{RELEASE}-leader", cluster.namespace
    )
    assert lease.spec.holder_identity  # elected under the chart's leader-election Role
    log = log_of(cluster)
    # nothing was refused: a namespaced operator does not scan cluster-scoped namespaces or CRDs
    # (kopf's scanning is off), so it never asks for what its Roles do not grant
    refused = [
        line for line in log.splitlines() if re.search(r"forbidden|not enough permissions", line, re.I)
    ]
    assert refused == []


@pytest.mark.parametrize(
    ("rbac_cluster", "expected"),
    [
        (
            ("kubeflow.org", "pytorchjobs", "create"),
            r'create pytorchjobs\.kubeflow\.org {ns}/rmt-humor-rm-1: .*cannot create resource "pytorchjobs" '
            r'in API group "kubeflow\.org" in the namespace "{ns}"',
        ),
        (
            ("pro.alignment.dev", "rewardmodeltrainings/status", "patch"),
            r"patch rewardmodeltrainings\.pro\.alignment\.dev/status {ns}/humor-rm: .*cannot patch resource "
            r'"rewardmodeltrainings/status" in API group "pro\.alignment\.dev"',
        ),
        (
            ("pro.alignment.dev", "rewardmodeltrainings", "watch"),
            r'cannot watch resource "rewardmodeltrainings" in API group "pro\.alignment\.dev"',
        ),
    ],
    indirect=["rbac_cluster"],
    ids=["create-pytorchjobs", "patch-status", "watch-stage-kind"],
)
def test_without_one_rule_the_operator_says_what_is_forbidden(
    rbac_cluster: Cluster, toy: Path, expected: str
) -> None:
    cluster = rbac_cluster
    doc = pipeline_doc(toy, f"s3://{cluster.bucket}/pro", MINIMAL, name="solo")
    rm = compose(AlignmentPipeline.model_validate(doc)).stage("rm-humor").resource.to_dict()
    rm["metadata"] = {"name": "humor-rm", "namespace": cluster.namespace}
    cluster.create("rewardmodeltrainings", rm)
    pattern = re.compile(expected.format(ns=re.escape(cluster.namespace)))
    cluster.wait("the Forbidden message in the operator log", lambda: pattern.search(log_of(cluster)), 120)
    assert cluster.operator.alive()
    if "pytorchjobs" in expected:
        assert cluster.jobs() == []
        assert re.search(r"reconcile of .*humor-rm.* failed \(retry in", log_of(cluster))
