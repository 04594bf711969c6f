"""A real Kubernetes API server for tests: ``kube-local`` on loopback, or ``PRO_TEST_KUBECONFIG``."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: where the shared checkout keeps kube-local, relative to the repository root
DEFAULT_KUBE_LOCAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "k8s" / "kube-local"

HOW_TO_ENABLE = (
    "the integration tier needs a Kubernetes API server: build the local one once with "
    "`../shared/k8s/kube-local build` (≈5 min, cached), or set PRO_TEST_KUBECONFIG to a cluster's kubeconfig"
)


@dataclass(frozen=True)
class KubeCluster:
    """A reachable API server; ``managed`` when this harness started it (and must stop it)."""

    kubeconfig: str
    managed: bool


def kube_local_path() -> Path:
    return Path(os.environ.get("PRO_KUBE_LOCAL", str(DEFAULT_KUBE_LOCAL))).resolve()


def unavailable_reason() -> str | None:
    """Why no API server can be had here, or None when one can."""
    if os.environ.get("PRO_TEST_KUBECONFIG"):
        path = Path(os.environ["PRO_TEST_KUBECONFIG"])
        return None if path.is_file() else f"PRO_TEST_KUBECONFIG={path} is not a file"
    tool = kube_local_path()
    if not tool.is_file():
        return f"{tool} not found; {HOW_TO_ENABLE}"
    home = Path(os.environ.get("PRO_KUBE_HOME", Path.home() / ".cache" / "pro-kube"))
    bin_dir = Path(os.environ["PRO_KUBE_BIN"]) if os.environ.get("PRO_KUBE_BIN") else None
    candidates = [bin_dir] if bin_dir else list(home.glob("v*/bin"))
    if not any((c / "kube-apiserver").is_file() for c in candidates):
        return f"kube-local is not built; {HOW_TO_ENABLE}"
    return None


def start(owner_pid: int) -> KubeCluster:
    """The cluster named by PRO_TEST_KUBECONFIG, or a fresh kube-local one owned by ``owner_pid``."""
    if os.environ.get("PRO_TEST_KUBECONFIG"):
        return KubeCluster(os.environ["PRO_TEST_KUBECONFIG"], managed=False)
    up = subprocess.run(
        [str(kube_local_path()), "up", "--with-controller-manager", "--owner-pid", str(owner_pid), "-q"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBE_LOCAL_SKIP_BUILD": "1"},  # never start the build inside a test
    )
    if up.returncode != 0:
        raise RuntimeError(f"kube-local up failed ({up.returncode}): {up.stderr.strip()[-2000:]}")
    return KubeCluster(up.stdout.strip(), managed=True)


def stop(cluster: KubeCluster) -> None:
    if cluster.managed:
        subprocess.run([str(kube_local_path()), "down", cluster.kubeconfig], check=False, capture_output=True)
