"""From one ``AlignmentPipeline`` to its stages: one complete stage resource each, and the graph.

Pure: the local runner, ``pro render`` and the operator all call :func:`compose` and get the same
stage resources (outputs and inputs filled in with artifact URIs under the pipeline's store root),
the same graph, and the same work digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pro.planner.graph import Graph, RetryPolicy, StageNode
from pro.spec.align import PolicyAlignment, PolicyAlignmentSpec, WeightChoice, WeightSettings
from pro.spec.base import ObjectMeta, Resource, spec_digest
from pro.spec.conventions import (
    DEFAULT_NAMESPACE,
    PIPELINE_LABEL,
    STAGE_LABEL,
    WORK_DIGEST,
    join_uri,
    k8s_name,
)
from pro.spec.evaluation import PolicyEvaluation, PolicyEvaluationSpec, PolicyRef
from pro.spec.execution import StageExecution, StageResources, StorageAccess
from pro.spec.pipeline import AlignmentPipeline, reward_stage_name
from pro.spec.stages import (
    AdapterTraining,
    AdapterTrainingSpec,
    RewardModelTraining,
    RewardModelTrainingSpec,
)

ADAPTER = "adapter"
ALIGN = "align"
BASELINE = "align-baseline"
EVAL = "eval"


def work_digest(resource: Resource) -> str:
    """The digest a stage records in what it commits: the pipeline's work digest (its spec folded with
    its inputs') when a pipeline set one, else the digest of its own spec."""
    annotated = resource.metadata.annotations.get(WORK_DIGEST)
    return annotated or spec_digest(getattr(resource, "spec"))  # noqa: B009


def child_name(pipeline: str, stage: str) -> str:
    """``<pipeline>-<stage>``, shortened with a hash to fit a 63-character Kubernetes name."""
    return k8s_name(f"{pipeline}-{stage}")


@dataclass(frozen=True)
class ComposedStage:
    """One stage of a pipeline: its name, complete resource (annotated with its work digest) and
    what it runs on."""

    name: str
    resource: Resource
    resources: StageResources

    @property
    def kind(self) -> str:
        kind: str = getattr(self.resource, "kind")  # noqa: B009 - every concrete Resource has a kind
        return kind

    @property
    def output(self) -> str:
        out: str = getattr(self.resource, "spec").output  # noqa: B009
        return out

    @property
    def digest(self) -> str:
        return self.resource.metadata.annotations[WORK_DIGEST]


@dataclass(frozen=True)
class Composition:
    """A pipeline's stages, in dependency order, and its graph."""

    pipeline: AlignmentPipeline
    root: str
    """The run's artifact root: ``<storage.uri>/<namespace>/<pipeline>/<runId>``."""
    stages: tuple[ComposedStage, ...]
    graph: Graph

    @cached_property
    def by_name(self) -> dict[str, ComposedStage]:
        return {s.name: s for s in self.stages}

    def stage(self, name: str) -> ComposedStage:
        return self.by_name[name]


def _meta(pipeline: AlignmentPipeline, stage: str) -> ObjectMeta:
    meta = pipeline.metadata
    return ObjectMeta(
        name=child_name(meta.name, stage),
        namespace=meta.namespace,
        labels={**meta.labels, PIPELINE_LABEL: meta.name, STAGE_LABEL: stage},
    )


def _weights(choice: WeightChoice, adapter_uri: str | None) -> WeightSettings:
    return WeightSettings(**choice.model_dump(), adapter=adapter_uri if choice.mode == "adapter" else None)


def _drafts(p: AlignmentPipeline, root: str) -> list[tuple[str, Resource, StageResources, tuple[str, ...]]]:
    """Every stage's resource (not yet annotated), resources and upstream stages, in order."""
    spec = p.spec
    names = spec.objective_names
    uri = {reward_stage_name(o): join_uri(root, reward_stage_name(o)) for o in names}
    rm_uris = {o: uri[reward_stage_name(o)] for o in names}
    rm_stages = tuple(reward_stage_name(o) for o in names)
    shared = spec.reward_model
    out: list[tuple[str, Resource, StageResources, tuple[str, ...]]] = []
    for obj in spec.objectives:
        stage = reward_stage_name(obj.name)
        rm_spec = RewardModelTrainingSpec(
            objective=obj.name,
            data=obj.data,
            eval_data=obj.eval_data,
            model=obj.model or shared.model,  # the spec checks one of them is set
            training=obj.training or shared.training,
            lora=shared.lora,
            deepspeed=shared.deepspeed,
            output=uri[stage],
        )
        resource = RewardModelTraining(metadata=_meta(p, stage), spec=rm_spec)
        out.append((stage, resource, obj.resources or shared.resources, ()))

    adapter_uri = None
    if spec.adapter is not None:
        adapter_uri = join_uri(root, ADAPTER)
        settings = spec.adapter.model_dump(exclude={"resources"})
        ad_spec = AdapterTrainingSpec(**settings, objectives=names, reward_models=rm_uris, output=adapter_uri)
        out.append(
            (
                ADAPTER,
                AdapterTraining(metadata=_meta(p, ADAPTER), spec=ad_spec),
                spec.adapter.resources,
                rm_stages,
            )
        )

    align = spec.alignment
    settings = align.model_dump(exclude={"weights", "resources"})

    def alignment(stage: str, choice: WeightChoice) -> tuple[str, Resource, StageResources, tuple[str, ...]]:
        needs = rm_stages + ((ADAPTER,) if choice.mode == "adapter" else ())
        pa_spec = PolicyAlignmentSpec(
            **settings,
            objectives=names,
            reward_models=rm_uris,
            weights=_weights(choice, adapter_uri),
            output=join_uri(root, stage),
        )
        return stage, PolicyAlignment(metadata=_meta(p, stage), spec=pa_spec), align.resources, needs

    out.append(alignment(ALIGN, align.weights))
    ev = spec.evaluation
    if ev is not None:
        baseline = ev.baseline
        if baseline.trains:
            out.append(alignment(BASELINE, baseline.weight_choice))
        baseline_uri = join_uri(root, BASELINE) if baseline.trains else baseline.uri
        assert baseline_uri is not None
        runs = {"pro": join_uri(root, ALIGN)} | ({baseline.name: baseline_uri} if baseline.trains else {})
        ev_spec = PolicyEvaluationSpec(
            **ev.model_dump(exclude={"baseline", "resources"}),
            policy_a=PolicyRef(name="pro", uri=join_uri(root, ALIGN)),
            policy_b=PolicyRef(name=baseline.name, uri=baseline_uri),
            objectives=names,
            reward_models=rm_uris,
            runs=runs,
            adapter=adapter_uri,
            output=join_uri(root, EVAL),
        )
        needs = (ALIGN,) + ((BASELINE,) if baseline.trains else ()) + ((ADAPTER,) if adapter_uri else ())
        out.append((EVAL, PolicyEvaluation(metadata=_meta(p, EVAL), spec=ev_spec), ev.resources, needs))
    return out


def compose(pipeline: AlignmentPipeline) -> Composition:
    """The pipeline's stages with inputs, outputs and work digests filled in, and their graph."""
    spec = pipeline.spec
    namespace = pipeline.metadata.namespace or DEFAULT_NAMESPACE
    root = join_uri(spec.storage.uri, namespace, pipeline.metadata.name, spec.run_id)
    drafts = _drafts(pipeline, root)
    r = spec.retry
    retry = RetryPolicy(
        limit=r.limit,
        backoff_seconds=r.backoff_seconds,
        factor=r.factor,
        max_backoff_seconds=r.max_backoff_seconds,
    )
    kinds = {name: getattr(res, "kind") for name, res, _, _ in drafts}  # noqa: B009
    graph = Graph(
        tuple(
            StageNode(name, kinds[name], needs, spec_digest(getattr(res, "spec")), retry)  # noqa: B009
            for name, res, _, needs in drafts
        )
    )
    digests = graph.work_digests
    access = StorageAccess(
        endpoint_url=spec.storage.endpoint_url,
        region=spec.storage.region,
        credentials_secret=spec.storage.credentials_secret,
    )
    stages = []
    for name, res, resources, _ in drafts:
        execution = StageExecution(
            image=spec.image,
            resources=resources,
            retry=spec.retry,
            kubernetes=spec.kubernetes,
            storage=access,
            suspend=spec.suspend,
        )
        meta = res.metadata.model_copy(
            update={"annotations": {**res.metadata.annotations, WORK_DIGEST: digests[name]}}
        )
        stage_spec = getattr(res, "spec").model_copy(update={"execution": execution})  # noqa: B009
        stages.append(
            ComposedStage(name, res.model_copy(update={"metadata": meta, "spec": stage_spec}), resources)
        )
    return Composition(pipeline, root, tuple(stages), graph)


__all__ = [
    "ADAPTER",
    "ALIGN",
    "BASELINE",
    "EVAL",
    "ComposedStage",
    "Composition",
    "child_name",
    "compose",
    "work_digest",
]
