"""Kubeflow's own CRDs on a test API server: Training Operator v1.9's PyTorchJob and Trainer v2.3's
TrainJob, ClusterTrainingRuntime and TrainingRuntime, copied unchanged from their releases into
``../shared/k8s/crds/`` (``PRO_KUBEFLOW_CRDS`` names another directory), so that what the operator creates
is checked against the schemas a real cluster enforces: a field a schema does not know is pruned, not
kept.  Kubernetes before 1.25 refuses their CEL rules, so those are stripped (as the integration tier's
1.20 API server needs).  The runtimes: Trainer's ``torch-distributed`` and our ``pro-torch``
(``manifests/trainer/``).  :func:`install_crd` installs our own CRDs too
(:func:`pro.testing.operator.install_crds`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from pro.render.crds import strip_cel
from pro.spec.conventions import CRD_BODY_DIGEST

ROOT = Path(__file__).resolve().parents[2]
#: where the shared checkout keeps the upstream CRDs
DEFAULT_CRDS = ROOT / ".." / "shared" / "k8s" / "crds"
PYTORCHJOB_CRD = "kubeflow.org_pytorchjobs.yaml"
TRAINER_CRDS = (
    "trainer.kubeflow.org_trainjobs.yaml",
    "trainer.kubeflow.org_clustertrainingruntimes.yaml",
    "trainer.kubeflow.org_trainingruntimes.yaml",
)
RUNTIMES = (
    ("torch-distributed", "clustertrainingruntime-torch-distributed.yaml"),
    ("pro-torch", str(ROOT / "manifests" / "trainer" / "clustertrainingruntime-pro-torch.yaml")),
)


def crds_dir() -> Path:
    return Path(os.environ.get("PRO_KUBEFLOW_CRDS", str(DEFAULT_CRDS))).resolve()


@functools.cache
def manifest(path: Path) -> dict[str, Any]:
    """A YAML manifest, parsed once per process and shared: never change it (``strip_cel`` and the API
    client copy what they are given)."""
    # libyaml where PyYAML has it: the upstream CRDs are 0.5–0.9 MB, 0.3–0.4 s of CPU each with the
    # pure-Python loader and 0.03 s with libyaml; every operator test installs them (measured, #14)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)
    return parsed


def install_kubeflow(api_client: Any, *, pytorchjob: bool = True, trainer: bool = True) -> None:
    """Install the upstream CRDs (PyTorchJob, Trainer's) and Trainer's runtimes unless present, and wait
    until they are served."""
    files = ([PYTORCHJOB_CRD] if pytorchjob else []) + (list(TRAINER_CRDS) if trainer else [])
    for name in files:
        install_crd(api_client, manifest(crds_dir() / name))
    if trainer:
        install_runtimes(api_client)


def install_crd(api_client: Any, body: dict[str, Any], *, replace: bool = False, cel: bool = False) -> None:
    """Create a CRD (its CEL rules stripped unless ``cel``: Kubernetes < 1.25 rejects them) and wait until
    it is served.  One of its name already there is kept, unless ``replace`` and it was installed from
    another body (the sha256 of body and ``cel``, in its :data:`CRD_BODY_DIGEST` annotation): ours are
    replaced when they change, Kubeflow's (perhaps a real cluster's) never."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(api_client)
    name = body["metadata"]["name"]
    current = _read_crd(ext, name)
    digest = hashlib.sha256(json.dumps([body, cel], sort_keys=True).encode()).hexdigest() if replace else ""
    if current is not None and not (replace and _installed_from(current) != digest):
        if not _established(current):
            wait_served(api_client, body)
        return
    installed = copy.deepcopy(body) if cel else strip_cel(body)
    if replace:
        installed["metadata"]["annotations"] = {
            **installed["metadata"].get("annotations", {}),
            CRD_BODY_DIGEST: digest,
        }
    if current is None:
        try:
            ext.create_custom_resource_definition(installed)
        except ApiException as err:
            if err.status != 409:  # another test session's install won the race
                raise
    else:
        installed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        ext.replace_custom_resource_definition(name, installed)
    wait_served(api_client, body)


def _read_crd(ext: Any, name: str) -> dict[str, Any] | None:
    """The CRD as the server has it (plain JSON: its schema is too large to build client models from
    cheaply), None when there is none."""
    from kubernetes.client.rest import ApiException

    try:
        found: dict[str, Any] = json.loads(
            ext.read_custom_resource_definition(name, _preload_content=False).data
        )
    except ApiException as err:
        if err.status != 404:
            raise
        return None
    return found


def _installed_from(crd_object: dict[str, Any]) -> str | None:
    digest: str | None = (crd_object["metadata"].get("annotations") or {}).get(CRD_BODY_DIGEST)
    return digest


def _established(crd_object: dict[str, Any]) -> bool:
    conditions = (crd_object.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def wait_served(api_client: Any, crd: dict[str, Any], timeout: float = 60.0) -> None:
    """Wait until a CRD is established and the API server serves its resource (a loaded server installs
    the handler a moment after the CRD says Established)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(api_client)
    name = crd["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while not _established(_read_crd(ext, name) or {}):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the CRD {name} did not become Established")
        time.sleep(0.05)
    custom = client.CustomObjectsApi(api_client)
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("served", True))
    while True:
        try:
            custom.list_cluster_custom_object(group, version, plural, limit=1)
            return
        except ApiException as err:
            if err.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def install_runtimes(api_client: Any) -> None:
    """The ClusterTrainingRuntimes tests run TrainJobs on (unless present)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    custom = client.CustomObjectsApi(api_client)
    for name, path in RUNTIMES:
        body = manifest(crds_dir() / path)
        for _ in range(50):  # the CRD may be established a moment before it is served
            try:
                custom.create_cluster_custom_object(
                    "trainer.kubeflow.org", "v1alpha1", "clustertrainingruntimes", body
                )
                break
            except ApiException as err:
                if err.status == 409:
                    break
                if err.status != 404:
                    raise
                time.sleep(0.1)
        else:
            raise RuntimeError(f"cannot create the ClusterTrainingRuntime {name}")
