"""Operator integration fixtures: CRDs on the real API server, the S3 server, the job executor, and
the real operator process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pro.testing.jobexec import JobExecutor
from pro.testing.operator import Cluster, OperatorProcess, install_crds


@pytest.fixture
def cluster(  # noqa: PLR0917 - pytest fixtures
    kube_cluster: Any,
    kube_namespace: Any,
    s3_server: Any,
    s3_env: dict[str, str],
    s3_bucket: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    from kubernetes import client, config

    core, namespace = kube_namespace
    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_crds(api)
    executor = JobExecutor(
        kube_cluster.kubeconfig, tmp_path / "jobs", namespace=namespace, extra_env=s3_env
    ).start()
    operator = OperatorProcess(
        kube_cluster.kubeconfig, namespace, tmp_path / "operator.log", env=s3_env
    ).start()
    try:
        yield Cluster(
            kube_cluster.kubeconfig,
            namespace,
            client.CustomObjectsApi(api),
            core,
            operator,
            executor,
            s3_bucket,
            tmp_path,
        )
    finally:
        operator.stop()
        executor.stop()
        api.close()
