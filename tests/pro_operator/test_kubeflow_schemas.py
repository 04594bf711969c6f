"""Every job the operator would create, against Kubeflow's own schemas: each example, sample and the toy
pipeline rendered for both backends (PyTorchJob on Training Operator v1.9's CRD, TrainJob on Trainer
v2.3's), created on the API server, and read back whole — a field a schema does not know is pruned
silently, so nothing sent may be missing from what the server kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.planner.compose import compose
from pro.render.jobs import JOB_KINDS, render_stage
from pro.spec.base import Resource
from pro.spec.kinds import kind_named, load_resource
from pro.spec.pipeline import AlignmentPipeline
from pro.spec.schedule import AlignmentSchedule
from pro.testing.kubeflow import install_kubeflow
from pro.testing.operator import JOB_KINDS as APIS
from pro.testing.toy_pipeline import TINY, pipeline_doc
from pro_operator.jobs import dropped

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [ROOT / "examples" / "production" / "pipeline-ultrafeedback.yaml"]
    + [p for p in (ROOT / "examples" / "toy").glob("*.yaml") if p.name != "world.yaml"]
    + list((ROOT / "manifests" / "samples").glob("*.yaml"))
)
#: what each API server adds to a job it stores (CRD defaults): nothing else may differ
DEFAULTED = {"PyTorchJob": set(), "TrainJob": {"spec.managedBy"}}


def stage_resources(path: Path) -> Iterator[Resource]:
    """The stage resources a file makes: a pipeline's (a schedule's pipeline's) stages, or the stage."""
    resource = load_resource(path)
    if isinstance(resource, AlignmentSchedule):
        template = resource.spec.pipeline_template
        resource = AlignmentPipeline.model_validate(
            {"metadata": {"name": resource.metadata.name}, "spec": template.spec.to_dict()}
        )
    if isinstance(resource, AlignmentPipeline):
        yield from (s.resource for s in compose(resource).stages)
    elif kind_named(getattr(resource, "kind")).is_stage:  # noqa: B009
        yield resource


def every_job(backend: str) -> Iterator[tuple[str, dict[str, Any]]]:
    toy = AlignmentPipeline.model_validate(pipeline_doc(Path("/data/toy"), "s3://bucket/pro", TINY))
    sources: list[tuple[str, Iterator[Resource]]] = [
        (p.relative_to(ROOT).as_posix(), stage_resources(p)) for p in SOURCES
    ]
    sources.append(("the toy pipeline (TINY)", (s.resource for s in compose(toy).stages)))
    for where, resources in sources:
        for resource in resources:
            yield f"{where}: {resource.metadata.name}", render_stage(resource, attempt=1, backend=backend).job


@pytest.fixture
def api(kube_cluster: Any, kube_namespace: Any) -> Iterator[tuple[Any, str]]:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_kubeflow(api_client)
    try:
        yield client.CustomObjectsApi(api_client), kube_namespace[1]
    finally:
        api_client.close()


def kept(custom: Any, namespace: str, backend: str, job: dict[str, Any]) -> tuple[list[str], set[str]]:
    """Create ``job`` in ``namespace``; what of it the server did not keep, and what it added."""
    group, version, plural = APIS[backend]["api"]
    sent = {**job, "metadata": {**job["metadata"], "namespace": namespace}}
    custom.create_namespaced_custom_object(group, version, namespace, plural, sent)
    stored = custom.get_namespaced_custom_object(group, version, namespace, plural, job["metadata"]["name"])
    custom.delete_namespaced_custom_object(group, version, namespace, plural, job["metadata"]["name"])
    meta = {k: stored["metadata"][k] for k in sent["metadata"] if k in stored["metadata"]}
    lost = dropped(sent["spec"], stored["spec"], "spec") + dropped(sent["metadata"], meta, "metadata")
    return lost, set(dropped(stored["spec"], sent["spec"], "spec"))


@pytest.mark.parametrize("backend", JOB_KINDS)
def test_every_rendered_job_is_kept_whole_by_kubeflows_schema(api: tuple[Any, str], backend: str) -> None:
    custom, namespace = api
    jobs = list(every_job(backend))
    assert len(jobs) >= 30  # 2 pipelines and a schedule of 6-7 stages, the toy's stage files, the samples
    for where, job in jobs:
        assert job["kind"] == backend
        lost, added = kept(custom, namespace, backend, job)
        assert lost == [], f"{where}: the {backend} schema pruned {lost}"
        assert added <= DEFAULTED[backend], f"{where}: the server changed {added - DEFAULTED[backend]}"


@pytest.mark.parametrize("backend", JOB_KINDS)
def test_a_misspelled_field_is_pruned_and_seen(api: tuple[Any, str], backend: str) -> None:
    """The check above can fail: the server drops what its schema does not know."""
    custom, namespace = api
    _, job = next(every_job(backend))
    section = job["spec"]["trainer"] if backend == "TrainJob" else job["spec"]["runPolicy"]
    section["numProcsPerNode"] = 2
    lost, _ = kept(custom, namespace, backend, job)
    path = "spec.trainer.numProcsPerNode" if backend == "TrainJob" else "spec.runPolicy.numProcsPerNode"
    assert lost == [path]


def test_the_sources_cover_every_example_and_sample() -> None:
    names = {p.name for p in SOURCES}
    assert {"pipeline-ultrafeedback.yaml", "pipeline.yaml", "schedule.yaml", "reward-humor.yaml"} <= names
    assert len([p for p in SOURCES if p.parent.name == "samples"]) == 6
    assert all(yaml.safe_load(p.read_text()) for p in SOURCES)
