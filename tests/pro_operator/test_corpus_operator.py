"""The malformed-input corpus (``tests/pro/spec/corpus``) through kubectl, the real API server and the real
operator process, all files at once.

``kubectl apply --validate=false`` leaves the judging to the API server (as GitOps tools and older kubectl
do); it records what it sent in the last-applied annotation.  Then:

- every file ``pro validate`` accepts is accepted as written (nothing rejected, nothing pruned), and the
  operator finds nothing wrong with it;
- every invalid file the cluster accepts anyway gets a condition naming the field (``reason: InvalidSpec``),
  with exactly one InvalidSpec Event — fields the API server pruned included — except the few a cluster
  cannot see (a file on this machine, marked ``# cluster: local``; found by the stage that reads it, which
  then fails at once) and duplicate keys, which kube-apiserver 1.20's kubectl keeps the last of (marked);
- the operator stays up throughout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pro.spec.kinds import all_kinds
from pro.spec.loader import decode, load_documents
from pro.testing.kubeflow import install_kubeflow
from pro.testing.operator import OperatorProcess, install_crds

pytestmark = pytest.mark.integration

CASES = Path(__file__).resolve().parents[1] / "pro" / "spec" / "corpus" / "cases"


def header(path: Path, key: str) -> str | None:
    found = re.search(rf"^# {key}: (.+)$", decode(path.read_bytes(), str(path)), re.MULTILINE)
    return found.group(1).strip() if found else None


def sent_spec(path: Path) -> Any:
    """The spec as pro reads the file (which must be as kubectl reads it: the API server's copy says)."""
    return load_documents(decode(path.read_bytes(), str(path)), str(path))[0].data["spec"]


def contains(sent: Any, stored: Any) -> bool:
    """Whether ``stored`` holds everything ``sent`` does, as sent (defaults added do not count)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            k in stored and contains(v, stored[k]) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return isinstance(stored, list) and len(sent) == len(stored) and all(map(contains, sent, stored))
    return bool(sent == stored)


def invalid_spec(obj: dict[str, Any]) -> str | None:
    """The message of the object's InvalidSpec condition, if it has one."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("reason") == "InvalidSpec":
            return str(c.get("message"))
    return None


def test_the_corpus_through_kubectl_and_the_real_operator(
    kube_cluster: Any, kube_namespace: Any, tmp_path: Path
) -> None:
    from kubernetes import client, config

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    core, namespace = kube_namespace
    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    custom = client.CustomObjectsApi(api)
    install_crds(api)
    install_kubeflow(api)  # Kubeflow's CRDs: a valid stage could create its job (none runs here)
    cases = {p.stem: p for p in sorted(CASES.glob("*.yaml"))}
    expect = {name: header(p, "expect") for name, p in cases.items()}
    special = {name: header(p, "cluster") for name, p in cases.items()}

    with OperatorProcess(kube_cluster.kubeconfig, namespace, tmp_path / "operator.log") as operator:
        env = {**os.environ, "KUBECONFIG": kube_cluster.kubeconfig}
        applied = subprocess.run(
            [kubectl, "apply", "-n", namespace, "--validate=false", "-f", str(CASES)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

        def objects() -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            for kind in all_kinds():
                listed = custom.list_namespaced_custom_object(
                    "pro.alignment.dev", "v1alpha1", namespace, kind.plural
                )
                found.update({o["metadata"]["name"]: o for o in listed["items"]})
            return found

        accepted_invalid = [
            n for n in objects() if n in expect and expect[n] != "valid" and special[n] is None
        ]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = objects()
            if all(invalid_spec(now[n]) for n in accepted_invalid):
                break
            time.sleep(1)
        time.sleep(3)  # a few more passes: anything else the operator would say, it has said
        stored = objects()
        assert operator.alive(), (tmp_path / "operator.log").read_text()[-3000:]

    problems: list[str] = []
    for name, path in cases.items():
        want, obj = expect[name], stored.get(name)
        if want == "valid":
            if obj is None:
                problems.append(f"{name}: pro validate accepts it, the cluster did not:\n{applied.stderr}")
            elif not contains(sent_spec(path), obj["spec"]):
                problems.append(f"{name}: pro validate accepts it, the API server changed it")
            elif invalid_spec(obj):
                problems.append(f"{name}: pro validate accepts it, the operator says {invalid_spec(obj)}")
        elif obj is not None and special[name] is None:
            message = invalid_spec(obj)
            if message is None or f"{want}: " not in message:
                problems.append(
                    f"{name}: accepted by the cluster; the operator should name {want}, said {message}"
                )
    assert not problems, "\n".join(problems)
    assert stored.get("p-two-docs-b") is not None  # both documents of a file were applied

    events = core.list_namespaced_event(namespace).items
    invalid_events: dict[str, int] = {}
    for e in events:
        if e.reason == "InvalidSpec":
            invalid_events[e.involved_object.name] = invalid_events.get(e.involved_object.name, 0) + (
                e.count or 1
            )
    flagged = {n for n, o in stored.items() if invalid_spec(o)}
    assert invalid_events == dict.fromkeys(flagged, 1)  # one Event each, however often they were looked at
    rejected = [n for n, w in expect.items() if w != "valid" and n not in stored]
    assert len(flagged) + len(rejected) >= 150, (len(flagged), len(rejected))
    print(json.dumps({"cases": len(cases), "rejected by kubectl/API server": len(rejected),
                      "flagged by the operator": len(flagged)}))  # fmt: skip
