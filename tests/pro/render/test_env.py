"""A stage gets the same environment in a pod and as a local process (one function builds it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.render.env import stage_env
from pro.render.jobs import render_stage
from pro.render.pod import POD_ENV
from pro.runner.loop import RunOptions, local_stage_env
from pro.spec.execution import StageExecution, StorageAccess
from pro.spec.kinds import load_resource

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


def test_pods_and_local_processes_get_the_same_stage_variables(tmp_path: Path) -> None:
    storage = StorageAccess(
        endpoint_url="http://minio.local:9000", region="eu-west-1", credentials_secret="s3"
    )
    execution = StageExecution(storage=storage)
    expected = {
        "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL_S3": "http://minio.local:9000",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    assert stage_env(storage) == expected

    resource = load_resource(ROOT / "examples/toy/reward-humor.yaml")
    spec = resource.spec.model_copy(update={"execution": execution})  # type: ignore[attr-defined]
    job = render_stage(resource.model_copy(update={"spec": spec}), attempt=1).job
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    pod_values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert pod_values == {**POD_ENV, **expected}  # and the Secret's keys as secretKeyRefs, never values
    assert {e["name"] for e in container["env"] if "valueFrom" in e} == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }

    local = local_stage_env(execution, RunOptions(run_dir=tmp_path, env={"PATH": "/bin"}), nproc=1)
    assert {k: local[k] for k in expected} == expected
    assert local["PATH"] == "/bin" and int(local["OMP_NUM_THREADS"]) >= 1
