"""The built images run as their pods would (``make image-check`` builds them with buildah first).

- The operator image's ENTRYPOINT, with the args, env and UID/GID of the chart's Deployment (but ``-n <ns>
  --kubeconfig …`` and free ports, the container shares the host network), read-only root filesystem, every
  volume the pod declares (a writable ``/tmp``, the guardrails ConfigMap read-only), USER/LOGNAME removed from the image's environment, as the chart's 65532 and as an
  OpenShift-style UID (neither has a passwd entry), against kube-local: a toy pipeline gets its first
  PyTorchJob and ``/healthz`` answers.
- The trainer image runs a MINIMAL reward-model stage exactly as its rendered PyTorchJob would (the job's
  command, env and ``/etc/pro/stage.yaml``, the training operator's ``PET_*``), as the jobs' UID 1000 and as
  an OpenShift-style UID, and commits its artifact to the S3 server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pro.planner.compose import compose
from pro.render import jobs
from pro.spec.pipeline import AlignmentPipeline
from pro.testing import images
from pro.testing.s3server import S3Server, free_port
from pro.testing.toy_pipeline import small_world
from tests.helm.test_chart import one, render
from tests.pro_operator.conftest import small_pipeline

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("PRO_IMAGE_CHECK"),
        reason="runs the built images: `make image-check` builds them (buildah, root) and sets PRO_IMAGE_CHECK=1",
    ),
]

#: a UID with no passwd entry in either image, as OpenShift assigns them
ARBITRARY_UID = 1000700000
KUBECONFIG_DIR = "/mnt/kube"
NO_USER_NAME = ("USER", "LOGNAME")


@dataclass(frozen=True)
class Where:
    """What :func:`small_pipeline` reads of a test cluster: its namespace and bucket."""

    namespace: str
    bucket: str


@pytest.fixture(scope="module")
def store() -> images.Store:
    store = images.Store.default()
    missing = [name for name in (images.OPERATOR_IMAGE, images.TRAINER_IMAGE) if store.image(name) is None]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)} (run `make images`)", pytrace=False)
    return store


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small toy world, readable by any UID (the generator writes its files 0600, as their owner's)."""
    world = small_world(tmp_path_factory.mktemp("world") / "toy")
    for path in [world, *world.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return world


def writable_dir(path: Path) -> Path:
    """An emptyDir: any UID may write it."""
    path.mkdir(parents=True)
    path.chmod(0o1777)
    return path


def tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return int(resp.status)
    except OSError:
        return 0


# ----------------------------------------------------------------------------------------------- operator
@pytest.fixture(scope="module")
def custom(kube_cluster: Any) -> Iterator[Any]:
    """A CustomObjectsApi on kube-local with our CRDs and the PyTorchJob CRD installed (nothing runs jobs)."""
    from kubernetes import client, config

    from pro.testing.kubeflow import install_kubeflow
    from pro.testing.operator import install_crds

    with config.new_client_from_config(config_file=kube_cluster.kubeconfig) as api:
        install_crds(api)
        install_kubeflow(api)
        yield client.CustomObjectsApi(api)


def chart_objects(namespace: str, metrics_port: int, health_port: int) -> list[dict[str, Any]]:
    """The chart's objects for an operator watching ``namespace`` only."""
    values = {
        "scope": "namespaces",
        "watchNamespaces": [namespace],
        "metrics": {"port": metrics_port},
        "health": {"port": health_port},
    }
    return render(values)


def volume_dirs(objs: list[dict[str, Any]], pod: dict[str, Any], root: Path) -> dict[str, Path]:
    """Each of the pod's volumes as a host directory, as the kubelet fills them: an emptyDir writable by any
    UID, a ConfigMap's keys as read-only files."""
    config_maps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    dirs: dict[str, Path] = {}
    for volume in pod["volumes"]:
        name = volume["name"]
        if "emptyDir" in volume:
            dirs[name] = writable_dir(root / name)
        elif "configMap" in volume:
            dirs[name] = root / name
            dirs[name].mkdir(parents=True)
            for key, text in config_maps[volume["configMap"]["name"]]["data"].items():
                (dirs[name] / key).write_text(text)
                (dirs[name] / key).chmod(0o644)
        else:
            raise AssertionError(f"volume {name}: a kind this test does not fill ({sorted(volume)})")
    return dirs


@pytest.mark.parametrize("uid", [None, ARBITRARY_UID], ids=["chart-uid", "arbitrary-uid"])
def test_the_operator_image_creates_a_pipelines_first_job(  # noqa: PLR0917 - pytest fixtures
    store: images.Store,
    uid: int | None,
    kube_cluster: Any,
    kube_namespace: Any,
    custom: Any,
    s3_env: dict[str, str],
    s3_bucket: str,
    toy: Path,
    tmp_path: Path,
) -> None:
    from pro.testing.operator import GROUP, VERSION

    namespace = kube_namespace[1]
    metrics_port, health_port = free_port(), free_port()
    objs = chart_objects(namespace, metrics_port, health_port)
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    security = {**pod["securityContext"], **ctr["securityContext"]}
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert [m["mountPath"] for m in ctr["volumeMounts"] if not m.get("readOnly")] == ["/tmp"]
    user = f"{uid}:{uid}" if uid else f"{security['runAsUser']}:{security['runAsGroup']}"
    env = {e["name"]: e["value"] for e in ctr["env"] if "value" in e}
    downward = {e["name"] for e in ctr["env"] if "valueFrom" in e and "fieldRef" in e["valueFrom"]}
    assert {"POD_NAME", "POD_NAMESPACE"} <= downward  # the peering identity and the Lease's namespace
    env["POD_NAMESPACE"] = namespace
    if uid is None:  # without the pod name the identity is hostname-pid
        env["POD_NAME"] = "pro-pipeline-5d8f7c9b4-x7k2q"
    env |= s3_env

    kube_dir = tmp_path / "kube"
    kube_dir.mkdir()
    (kube_dir / "kubeconfig").write_text(Path(kube_cluster.kubeconfig).read_text())
    (kube_dir / "kubeconfig").chmod(0o644)
    dirs = volume_dirs(objs, pod, tmp_path / "volumes")
    mounts = [
        images.Mount(kube_dir, KUBECONFIG_DIR),
        *(
            images.Mount(dirs[m["name"]], m["mountPath"], bool(m.get("readOnly")))
            for m in ctr["volumeMounts"]
        ),
    ]
    log = tmp_path / "operator.log"
    with images.Container(store, images.OPERATOR_IMAGE, mounts, unset_env=NO_USER_NAME) as box:
        seen = subprocess.run(
            box.argv(["env"], user=user, env=env), capture_output=True, text=True, check=True
        )
        assert not [ln for ln in seen.stdout.splitlines() if ln.split("=")[0] in NO_USER_NAME], seen.stdout
        argv = [*box.config()["Entrypoint"], *ctr["args"], "--kubeconfig", f"{KUBECONFIG_DIR}/kubeconfig"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                box.argv(argv, user=user, env=env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            doc = small_pipeline(Where(namespace, s3_bucket), toy, "imaged")  # type: ignore[arg-type]
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "alignmentpipelines", doc)
            deadline = time.monotonic() + 180
            found: list[Any] = []
            while not found and proc.poll() is None and time.monotonic() < deadline:
                found = custom.list_namespaced_custom_object("kubeflow.org", "v1", namespace, "pytorchjobs")[
                    "items"
                ]
                time.sleep(0.5)
            assert found, f"no PyTorchJob (operator exit code {proc.poll()}); its log:\n{tail(log)}"
            assert healthz(health_port) == 200, tail(log)
            assert proc.poll() is None, tail(log)
        finally:
            stop(proc)
    assert "getpwuid" not in log.read_text()


# ----------------------------------------------------------------------------------------------- trainer
@pytest.mark.parametrize("uid", [None, ARBITRARY_UID], ids=["job-uid", "arbitrary-uid"])
def test_the_trainer_image_runs_a_stage_as_its_job_would(  # noqa: PLR0917 - pytest fixtures
    store: images.Store,
    uid: int | None,
    s3_server: S3Server,
    s3_env: dict[str, str],
    s3_bucket: str,
    toy: Path,
    tmp_path: Path,
) -> None:
    from pro.store.api import read_manifest, verify_artifact

    doc = small_pipeline(Where("default", s3_bucket), toy, f"imaged-{uid or 'job'}")  # type: ignore[arg-type]
    stage = compose(AlignmentPipeline.model_validate(doc)).stages[0].resource
    assert stage.kind == "RewardModelTraining"
    rendered = jobs.render_stage(stage, attempt=1)  # type: ignore[arg-type]
    pod = rendered.job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    (ctr,) = pod["containers"]
    assert ctr["securityContext"]["readOnlyRootFilesystem"]
    user = (
        f"{uid}:{uid}"
        if uid
        else f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    )
    spec_dir = tmp_path / "spec"  # the ConfigMap volume
    spec_dir.mkdir()
    for key, text in rendered.config_map["data"].items():
        (spec_dir / key).write_text(text)
    mount_path = {m["name"]: m["mountPath"] for m in ctr["volumeMounts"]}
    assert set(mount_path) == {"spec", "tmp"}
    master_port = str(free_port())
    env = {e["name"]: e["value"] for e in ctr["env"] if "value" in e} | s3_env
    # what the training operator injects into a single-replica job's master
    env |= {"PET_NNODES": "1", "PET_NODE_RANK": "0", "PET_NPROC_PER_NODE": rendered.job["spec"]["nprocPerNode"],
            "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": master_port, "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": master_port, "WORLD_SIZE": "1", "RANK": "0"}  # fmt: skip
    mounts = [
        images.Mount(spec_dir, mount_path["spec"]),
        images.Mount(writable_dir(tmp_path / "tmp"), mount_path["tmp"], False),
        images.Mount(toy, str(toy)),  # the stage's data path (a local path in the toy pipeline)
    ]
    log = tmp_path / "stage.log"
    with images.Container(store, images.TRAINER_IMAGE, mounts) as box:
        entry = box.config()["Entrypoint"]
        assert ctr["command"][: len(entry)] == entry
        with log.open("wb") as out:
            proc = subprocess.Popen(
                # torchrun resolves the container's hostname, which nothing resolves under buildah
                box.argv(ctr["command"], user=user, env=env, hostname="localhost"),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            code = proc.wait(900)
        finally:
            stop(proc)
    assert code == 0, f"the stage exited with {code}:\n{tail(log)}"
    manifest = read_manifest(stage.spec.output)
    assert manifest is not None, f"nothing committed at {stage.spec.output}:\n{tail(log)}"
    assert (manifest.producer.kind, manifest.producer.name) == ("RewardModelTraining", stage.metadata.name)
    assert verify_artifact(stage.spec.output) == []
