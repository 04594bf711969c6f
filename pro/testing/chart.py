"""The Helm chart's RBAC on a test cluster: its ServiceAccount, Roles and RoleBindings rendered by the real
Helm engine (``helm-python-sdk``), applied, and a kubeconfig carrying a token of that ServiceAccount, so the
operator runs with exactly what the chart grants (``tests/pro_operator``: the e2e and least-privilege
tests)."""

from __future__ import annotations

import base64
import copy
import time
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "pro-pipeline"
#: the release name the tests install the chart's RBAC under (the Lease is ``<RELEASE>-leader``)
RELEASE = "pro-pipeline"
Obj = dict[str, Any]


def chart_rbac(namespace: str) -> list[Obj]:
    """ServiceAccount, Roles and RoleBindings of the chart, scope ``namespaces`` watching ``namespace``,
    released there (so the leader election's Role is there too); nothing cluster-scoped."""
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        out = chart.render(
            {"scope": "namespaces", "watchNamespaces": [namespace]}, name=RELEASE, namespace=namespace
        )
    objs = [d for p, t in sorted(out.items()) if p.endswith(".yaml") for d in yaml.safe_load_all(t) if d]
    picked = [o for o in objs if o["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    kinds = sorted(o["kind"] for o in picked)
    assert kinds == ["Role", "Role", "RoleBinding", "RoleBinding", "ServiceAccount"], kinds
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
    """Create ``objs`` on the cluster."""
    from kubernetes import utils

    for obj in objs:
        utils.create_from_dict(api_client, obj)


def service_account_kubeconfig(admin_kubeconfig: str, core: Any, namespace: str, out: Path) -> Path:
    """A kubeconfig with a token of the chart's ServiceAccount (TokenRequest API, or on older servers the
    token Secret the controller manager made), same server and CA, written to ``out`` (0600)."""
    token = None
    try:
        req = core.create_namespaced_service_account_token(
            RELEASE, namespace, {"spec": {"expirationSeconds": 3600}}
        )
        token = req.status.token
    except Exception:  # older servers: no TokenRequest for this client's call
        for _ in range(100):
            secrets = core.read_namespaced_service_account(RELEASE, namespace).secrets or []
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


def under_chart_rbac(
    api_client: Any,
    core: Any,
    admin_kubeconfig: str,
    namespace: str,
    workdir: Path,
    *,
    objs: list[Obj] | None = None,
) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """Apply the chart's RBAC (or ``objs``, e.g. :func:`without` a rule) in ``namespace``: the operator's
    kubeconfig (the ServiceAccount's token), environment and leader-election arguments, as the chart's
    Deployment runs it."""
    apply(api_client, chart_rbac(namespace) if objs is None else objs)
    kubeconfig = service_account_kubeconfig(admin_kubeconfig, core, namespace, workdir / "sa-kubeconfig")
    args = ("--leader-elect", f"--leader-elect-resource-name={RELEASE}-leader")
    return str(kubeconfig), {"POD_NAMESPACE": namespace}, args
