"""Least privilege on a real API server: the chart's rendered RBAC (namespaced scope) is applied and the
operator runs with a token of the chart's ServiceAccount (not the admin's), electing itself leader on
the chart's Lease; the token cannot do what the chart does not grant, and with one rule removed the
operator fails with a Forbidden message naming the verb and the resource. (A whole pipeline under the
chart's RBAC, on both job backends: ``test_pipeline_e2e.py``.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pro.planner.compose import compose
from pro.spec.pipeline import AlignmentPipeline
from pro.testing.chart import chart_rbac, under_chart_rbac, without
from pro.testing.operator import Cluster, install_crds, operated
from pro.testing.toy_pipeline import MINIMAL, pipeline_doc

pytestmark = pytest.mark.integration

pytest.importorskip("helm_python")


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
    removed = getattr(request, "param", None)
    objs = without(chart_rbac(namespace), *removed) if removed else None
    kubeconfig, env, args = under_chart_rbac(
        api, core, kube_cluster.kubeconfig, namespace, tmp_path, objs=objs
    )
    try:
        with operated(
            kube_cluster.kubeconfig, namespace, api=api, core=core, bucket=s3_bucket, workdir=tmp_path,
            s3_env=s3_env, operator_kubeconfig=kubeconfig, operator_env=env, operator_args=args,
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
