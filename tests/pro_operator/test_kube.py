"""The operator's API client (``pro_operator.kube`` with the login of ``pro_operator.handlers``) against
the real kube-apiserver: every verb the controllers use, errors named, pooled connections, a new login
after a 401, TLS verified, and the kubeconfig variants it logs in with."""

from __future__ import annotations

import copy
import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.spec.conventions import API_GROUP, API_VERSION
from pro_operator import kube as k
from pro_operator.handlers import connection, credentials
from tests.pro_operator.conftest import RMS, stage_body

pytestmark = pytest.mark.integration

LABEL = "pro.alignment.dev/pipeline"


def test_every_verb_of_the_controllers_round_trips(api: tuple[k.Kube, str]) -> None:
    kube, ns = api
    ref = k.custom_ref(RMS, ns, "rm-a")
    created = kube.create(ref, stage_body("rm-a", ns, **{LABEL: "p1"}))
    kube.create(k.custom_ref(RMS, ns, "rm-b"), stage_body("rm-b", ns, **{LABEL: "p2"}))
    assert created["metadata"]["uid"] and kube.get(ref)["spec"]["objective"] == "helpfulness"
    assert [o["metadata"]["name"] for o in kube.list_objects(API_GROUP, API_VERSION, RMS, ns)] == [
        "rm-a",
        "rm-b",
    ]
    picked = kube.list_objects(API_GROUP, API_VERSION, RMS, ns, label_selector=f"{LABEL}=p2")
    assert [o["metadata"]["name"] for o in picked] == ["rm-b"] and picked[0]["kind"] == "RewardModelTraining"
    assert ns in {o["metadata"]["namespace"] for o in kube.list_objects(API_GROUP, API_VERSION, RMS, None)}

    # status through the subresource, with the resourceVersion as a precondition; null removes a field
    rv = created["metadata"]["resourceVersion"]
    patched = kube.patch_status(ref, {"phase": "Running", "message": "attempt 1"}, rv)
    assert patched["status"] == {"phase": "Running", "message": "attempt 1"}
    with pytest.raises(k.Conflict, match=rf"patch {RMS}.pro.alignment.dev/status {ns}/rm-a: .*modified"):
        kube.patch_status(ref, {"phase": "Failed"}, rv)
    cleared = kube.patch_status(ref, {"message": None}, None)
    assert cleared["status"] == {"phase": "Running"}
    labelled = kube.patch(ref, {"metadata": {"labels": {"team": "a"}}})
    assert labelled["metadata"]["labels"]["team"] == "a" and labelled["status"] == {"phase": "Running"}

    body = copy.deepcopy(labelled)
    body["spec"]["output"] = "s3://bucket/rm-2"
    replaced = kube.replace_spec(ref, body)
    assert replaced["spec"]["output"] == "s3://bucket/rm-2" and replaced["metadata"]["generation"] == 2
    with pytest.raises(k.Conflict):  # the same resourceVersion again
        kube.replace_spec(ref, body)

    kube.delete(ref)
    kube.delete(ref)  # gone is fine
    with pytest.raises(k.NotFound, match=f"get {RMS}.pro.alignment.dev {ns}/rm-a: .*not found"):
        kube.get(ref)


def test_config_maps_events_and_pods(api: tuple[k.Kube, str], kube_namespace: Any) -> None:
    kube, ns = api
    core = kube_namespace[0]
    owner = kube.create(k.custom_ref(RMS, ns, "rm-owner"), stage_body("rm-owner", ns))
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": "rm-owner",
           "uid": owner["metadata"]["uid"], "controller": True}  # fmt: skip
    meta = {"name": "spec", "namespace": ns, "ownerReferences": [ref]}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    kube.apply_config_map({**cm, "data": {"stage.yaml": "a: 1\n"}})
    kube.apply_config_map({**cm, "data": {"stage.yaml": "a: 1\n"}})  # the same: nothing to do
    kube.apply_config_map({**cm, "data": {"stage.yaml": "a: 2\n"}})  # its own: brought up to date
    assert core.read_namespaced_config_map("spec", ns).data == {"stage.yaml": "a: 2\n"}
    other = {**cm, "metadata": {**meta, "ownerReferences": [{**ref, "uid": "another-uid"}]}}
    for foreign in (other, {**cm, "metadata": {"name": "spec", "namespace": ns}}):
        with pytest.raises(k.NotOwned, match=f"ConfigMap {ns}/spec exists and is not this object's"):
            kube.apply_config_map({**foreign, "data": {"stage.yaml": "a: 3\n"}})
    assert core.read_namespaced_config_map("spec", ns).data == {"stage.yaml": "a: 2\n"}  # never changed

    from kubernetes import client

    labels = {"pro.alignment.dev/credentials": "true"}
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="s3", labels=labels), string_data={"K": "v"})
    core.create_namespaced_secret(ns, secret)
    assert kube.secret_labels(ns, "s3") == labels and kube.secret_labels(ns, "nothing") is None
    # what the operator asks for: the Secret's metadata, never its data
    partial = kube._request("GET", f"/api/v1/namespaces/{ns}/secrets/s3", accept=k.METADATA_ONLY)
    assert partial["kind"] == "PartialObjectMetadata" and "data" not in partial

    involved = kube.create(k.custom_ref(RMS, ns, "rm-e"), stage_body("rm-e", ns))
    kube.event(involved, "Started", "attempt 1: job rm-e-1", now="2026-12-01T00:00:00Z")
    kube.event(involved, "Failed", "x" * 5000, warning=True, now="2026-12-01T00:00:01Z")
    events = core.list_namespaced_event(ns, field_selector="involvedObject.name=rm-e").items
    assert sorted((e.reason, e.type, len(e.message)) for e in events) == [
        ("Failed", "Warning", 1024),
        ("Started", "Normal", len("attempt 1: job rm-e-1")),
    ]
    assert {e.involved_object.uid for e in events} == {involved["metadata"]["uid"]}
    assert kube.pods(ns, "training.kubeflow.org/job-name=none") == []


def test_leases_round_trip_and_a_fenced_client_sends_no_write(api: tuple[k.Kube, str]) -> None:
    """The leader election's verbs; a fenced client (a standby, a leader that lost its lease) refuses
    every write before sending it, but reads, and still writes its Lease."""
    from pro_operator import metrics

    kube, ns = api
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": ns},
    }
    assert kube.get_lease(ns, "l") is None
    made = kube.create_lease(
        {**lease, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}, timeout=5
    )
    with pytest.raises(k.Conflict, match=f"create leases.coordination.k8s.io {ns}/l: .*already exists"):
        kube.create_lease(lease)
    stale = {**made, "spec": {**made["spec"], "holderIdentity": "b"}}
    kube.replace_lease(stale)
    with pytest.raises(k.Conflict, match=f"update leases.coordination.k8s.io {ns}/l: .*modified"):
        kube.replace_lease(stale)  # the same resourceVersion again: one writer wins
    assert (kube.get_lease(ns, "l") or {})["spec"]["holderIdentity"] == "b"

    involved = kube.create(k.custom_ref(RMS, ns, "rm-f"), stage_body("rm-f", ns))
    kube.fence("standing by: another replica leads")
    try:
        sent = metrics.API_REQUESTS.labels(verb="create", resource=f"{RMS}.pro.alignment.dev")._value.get()
        with pytest.raises(
            k.Fenced, match=rf"create {RMS}.pro.alignment.dev {ns}/rm-g: not sent: standing by"
        ):
            kube.create(k.custom_ref(RMS, ns, "rm-g"), stage_body("rm-g", ns))
        assert (
            metrics.API_REQUESTS.labels(verb="create", resource=f"{RMS}.pro.alignment.dev")._value.get()
            == sent
        )
        for write in (
            lambda: kube.patch_status(k.custom_ref(RMS, ns, "rm-f"), {"phase": "Running"}, None),
            lambda: kube.event(involved, "Started", "attempt 1", now="2026-12-01T00:00:00Z"),
            lambda: kube.apply_config_map({"metadata": {"name": "c", "namespace": ns}, "data": {}}),
            lambda: kube.delete(k.custom_ref(RMS, ns, "rm-f")),
        ):
            with pytest.raises(k.Fenced):
                write()
        assert kube.get(k.custom_ref(RMS, ns, "rm-f"))["metadata"]["name"] == "rm-f"  # reads go on
        assert kube.replace_lease(kube.get_lease(ns, "l") or {})["spec"]["holderIdentity"] == "b"
    finally:
        kube.fence(None)
    kube.create(k.custom_ref(RMS, ns, "rm-g"), stage_body("rm-g", ns))  # unfenced: writes again


def test_the_api_servers_refusal_is_named(api: tuple[k.Kube, str]) -> None:
    kube, ns = api
    bad = stage_body("rm-bad", ns)
    bad["spec"]["objective"] = 7
    with pytest.raises(k.KubeError) as err:
        kube.create(k.custom_ref(RMS, ns, "rm-bad"), bad)
    assert err.value.status == 422 and "spec.objective" in str(err.value)
    assert str(err.value).startswith(f"create {RMS}.pro.alignment.dev {ns}/rm-bad: ")
    with pytest.raises(k.NotFound):
        kube.patch(k.custom_ref(RMS, ns, "nothing-here"), {"metadata": {"labels": {"a": "b"}}})


def test_requests_share_pooled_connections(api: tuple[k.Kube, str]) -> None:
    kube, ns = api
    involved = kube.create(k.custom_ref(RMS, ns, "rm-p"), stage_body("rm-p", ns))
    for i in range(30):
        kube.event(involved, "Started", f"n{i}", now="2026-12-01T00:00:00Z")
        kube.get(k.custom_ref(RMS, ns, "rm-p"))
    pools = list(kube._pool.pools._container.values())  # type: ignore[attr-defined]
    assert sum(p.num_connections for p in pools) == 1  # sequential requests: one TLS connection


def test_a_401_logs_in_again_once(api: tuple[k.Kube, str], kubeconfig: dict[str, Any]) -> None:
    _, ns = api
    good = connection(credentials(in_cluster=False))
    logins: list[str] = []

    def login() -> k.Connection:  # a token that expired, then a fresh one
        logins.append("login")
        token = "expired" if len(logins) == 1 else good.authorization
        return k.Connection(good.server, good.ssl_context, token if token != "expired" else "Bearer expired")

    kube = k.Kube(login)
    assert kube.list_objects(API_GROUP, API_VERSION, RMS, ns) == [] and len(logins) == 2

    def never() -> k.Connection:
        return k.Connection(good.server, good.ssl_context, "Bearer revoked")

    with pytest.raises(k.KubeError, match=f"list {RMS}.pro.alignment.dev {ns}: Unauthorized") as err:
        k.Kube(never).list_objects(API_GROUP, API_VERSION, RMS, ns)
    assert err.value.status == 401


def test_an_unreachable_server_and_an_untrusted_certificate_are_errors(kubeconfig: dict[str, Any]) -> None:
    good = connection(credentials(in_cluster=False))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    down = k.Kube(lambda: k.Connection(f"https://127.0.0.1:{port}", good.ssl_context, good.authorization))
    with pytest.raises(k.KubeError, match=f"cannot reach the API server at https://127.0.0.1:{port}"):
        down.get(k.custom_ref(RMS, "default", "x"))
    stranger = ssl.create_default_context()  # the system's CAs: not the cluster's
    untrusted = k.Kube(lambda: k.Connection(good.server, stranger, good.authorization))
    with pytest.raises(k.KubeError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted.get(k.custom_ref(RMS, "default", "x"))


def write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_login_errors_name_the_kubeconfig(
    kubeconfig: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kopf

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(kopf.LoginError, match=rf"kubeconfig {tmp_path}/missing: FileNotFoundError"):
        credentials(in_cluster=False)
    broken = copy.deepcopy(kubeconfig)
    broken["current-context"] = "elsewhere"
    monkeypatch.setenv("KUBECONFIG", write(tmp_path, broken))
    with pytest.raises(kopf.LoginError, match="KeyError: 'elsewhere'"):
        credentials(in_cluster=False)


EXEC_LOGIN = """
import sys
from pro.spec.conventions import API_GROUP, API_VERSION
from pro_operator import kube as k
from pro_operator.handlers import client, credentials
if sys.argv[1] == "without-kubernetes":
    sys.modules["kubernetes"] = None  # the operator image: no kubernetes package
try:
    print("token", credentials(in_cluster=False).token)
    print("listed", client(in_cluster=False).list_objects(API_GROUP, API_VERSION, "rewardmodeltrainings", "default"))
except Exception as err:
    print(type(err).__name__, err)
"""


def test_an_exec_plugin_user_logs_in_through_the_kubernetes_package(
    kubeconfig: dict[str, Any], tmp_path: Path
) -> None:
    token = kubeconfig["users"][0]["user"].pop("token")
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    kubeconfig["users"][0]["user"]["exec"] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": sys.executable,
        "args": ["-c", f"print({json.dumps(json.dumps(credential))})"],
        "interactiveMode": "Never",
    }
    env = {**os.environ, "KUBECONFIG": write(tmp_path, kubeconfig)}  # as the operator's process has it

    def run(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", EXEC_LOGIN, mode], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("with-kubernetes") == f"token {token}\nlisted []\n"
    out = run("without-kubernetes")
    assert out.startswith("LoginError the kubeconfig user for https://127.0.0.1:") and (
        "has no token or client certificate (an exec plugin or auth provider?): install the `kubernetes`"
        in out
    ), out
