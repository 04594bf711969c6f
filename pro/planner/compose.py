"""From one ``AlignmentPipeline`` to its stages: one complete stage resource each, and the graph.

Pure: the local runner, ``pro render`` and the operator all call :func:`compose` and get the same
stage resources (outputs and inputs filled in with artifact URIs under the pipeline's store root),
the same graph, and the same work digests.

Work digests say what a stage computes, never where: they are taken from the stage specs with every
artifact URI replaced by a symbol for the stage that produces it, and every pinned data reference by the
identity of the objects it was pinned to (:class:`~pro.spec.data.PinnedData`).  So the same work under
another run id, store or data path has the same digest, and an earlier run's artifact can be reused
(``reused``): its URI is wired into the stages that read it, and the stage itself does not run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from pro.planner.graph import Graph, RetryPolicy, StageNode
from pro.spec.align import PolicyAlignment, PolicyAlignmentSpec, WeightChoice, WeightSettings
from pro.spec.base import ObjectMeta, Resource, spec_digest
from pro.spec.conventions import (
    DEFAULT_NAMESPACE,
    PIPELINE_LABEL,
    SCHEDULE_LABEL,
    STAGE_LABEL,
    WORK_DIGEST,
    join_uri,
    k8s_name,
)
from pro.spec.data import PinnedData, iter_data_refs
from pro.spec.evaluation import PolicyEvaluation, PolicyEvaluationSpec, PolicyRef
from pro.spec.execution import StageExecution, StageResources, StorageAccess
from pro.spec.pipeline import AlignmentPipeline, AlignmentPipelineSpec, reward_stage_name
from pro.spec.promotion import LAST_PROMOTED, PromotionGate
from pro.spec.run import RunSnapshot
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
#: the run's pinned snapshot under its root (see :class:`pro.spec.run.RunSnapshot`)
SNAPSHOT_FILE = "snapshot.json"
#: the root of the symbolic artifact URIs work digests are taken with (no store, namespace or run in them)
SYMBOLIC_ROOT = "pro-artifact://"


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
class Reuse:
    """An artifact an earlier run committed for the same work."""

    uri: str
    run: str
    """The run id that committed it."""


@dataclass(frozen=True)
class Composition:
    """A pipeline's stages, in dependency order, and its graph."""

    pipeline: AlignmentPipeline
    root: str
    """The run's artifact root: ``<storage.uri>/<namespace>/<pipeline>/<runId>``."""
    stages: tuple[ComposedStage, ...]
    graph: Graph
    reused: Mapping[str, Reuse]
    """Stages whose work an earlier run committed: their outputs are those artifacts."""

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


Draft = tuple[str, Resource, StageResources, tuple[str, ...]]


def _drafts(
    p: AlignmentPipeline,
    where: Mapping[str, str] | str,
    gate: PromotionGate | None = None,
    warm: str | None = None,
) -> list[Draft]:
    """Every stage's resource (not yet annotated), resources and upstream stages, in order; each stage's
    output is ``where[stage]``, or ``<where>/<stage>`` when ``where`` is a root; ``gate``: the evaluation's
    promotion gate; ``warm``: a policy artifact the alignments start from (a warm start)."""

    def at(stage: str) -> str:
        return join_uri(where, stage) if isinstance(where, str) else where[stage]

    spec = p.spec
    names = spec.objective_names
    uri = {reward_stage_name(o): at(reward_stage_name(o)) for o in names}
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
        adapter_uri = at(ADAPTER)
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
    if warm is not None:
        settings |= {"policy": {"name": warm}, "init": None}

    def alignment(stage: str, choice: WeightChoice) -> tuple[str, Resource, StageResources, tuple[str, ...]]:
        needs = rm_stages + ((ADAPTER,) if choice.mode == "adapter" else ())
        pa_spec = PolicyAlignmentSpec(
            **settings,
            objectives=names,
            reward_models=rm_uris,
            weights=_weights(choice, adapter_uri),
            output=at(stage),
        )
        return stage, PolicyAlignment(metadata=_meta(p, stage), spec=pa_spec), align.resources, needs

    out.append(alignment(ALIGN, align.weights))
    ev = spec.evaluation
    if ev is not None:
        baseline = ev.baseline
        if baseline.trains:
            out.append(alignment(BASELINE, baseline.weight_choice))
        baseline_uri = at(BASELINE) if baseline.trains else baseline.uri
        assert baseline_uri is not None
        runs = {"pro": at(ALIGN)} | ({baseline.name: baseline_uri} if baseline.trains else {})
        ev_spec = PolicyEvaluationSpec(
            **ev.model_dump(exclude={"baseline", "resources"}),
            policy_a=PolicyRef(name="pro", uri=at(ALIGN)),
            policy_b=PolicyRef(name=baseline.name, uri=baseline_uri),
            objectives=names,
            reward_models=rm_uris,
            runs=runs,
            adapter=adapter_uri,
            promotion=gate,
            output=at(EVAL),
        )
        needs = (ALIGN,) + ((BASELINE,) if baseline.trains else ()) + ((ADAPTER,) if adapter_uri else ())
        out.append((EVAL, PolicyEvaluation(metadata=_meta(p, EVAL), spec=ev_spec), ev.resources, needs))
    return out


def run_root(pipeline: AlignmentPipeline) -> str:
    """Where the run's artifacts go: ``<storage.uri>/<namespace>/<pipeline>/<runId>``."""
    spec = pipeline.spec
    namespace = pipeline.metadata.namespace or DEFAULT_NAMESPACE
    return join_uri(spec.storage.uri, namespace, pipeline.metadata.name, spec.run_id)


def lineage(pipeline: AlignmentPipeline) -> str:
    """The name runs of the same work share: the schedule that created the pipeline, else its own."""
    return pipeline.metadata.labels.get(SCHEDULE_LABEL) or pipeline.metadata.name


def lineage_root(pipeline: AlignmentPipeline) -> str:
    """``<storage.uri>/<namespace>/<lineage>``: the reuse index, the promoted pointer and run records."""
    namespace = pipeline.metadata.namespace or DEFAULT_NAMESPACE
    return join_uri(pipeline.spec.storage.uri, namespace, lineage(pipeline))


def data_refs(pipeline: AlignmentPipeline) -> list[tuple[str, str]]:
    """``(field path, reference)`` of every data reference of the pipeline, in spec order."""
    return list(iter_data_refs(pipeline.spec))


def content_id(pins: PinnedData) -> str:
    """What a pinned reference's data is, whatever its location: the objects' identities, in order."""
    return "pro-data:" + hashlib.sha256("\n".join(o.identity for o in pins.objects).encode()).hexdigest()


def _digest(spec: Any, snapshot: Mapping[str, PinnedData]) -> str:
    """The digest of a (symbolic) stage spec with its pinned data references replaced by their content."""
    data = {k: v for k, v in spec.to_dict().items() if k not in ("execution", "snapshot")}

    def swap(value: Any) -> Any:
        if isinstance(value, str) and value in snapshot:
            return content_id(snapshot[value])
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    canonical = json.dumps(swap(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _spec_of(resource: Resource) -> Any:
    return getattr(resource, "spec")  # noqa: B009 - every stage resource has a spec


def _kind_of(resource: Resource) -> str:
    kind: str = getattr(resource, "kind")  # noqa: B009 - every concrete resource has a kind
    return kind


def _retry(pipeline: AlignmentPipeline) -> RetryPolicy:
    r = pipeline.spec.retry
    return RetryPolicy(r.limit, r.backoff_seconds, r.factor, r.max_backoff_seconds)


def promotion_gate(pipeline: AlignmentPipeline, run: RunSnapshot | None) -> PromotionGate | None:
    """The evaluation's gate for this run: the baseline and pointer version pinned when the run started."""
    promotion, evaluation = pipeline.spec.promotion, pipeline.spec.evaluation
    if promotion is None or evaluation is None:
        return None
    pin = run.promoted if run is not None else None
    if promotion.baseline == LAST_PROMOTED:
        baseline = pin.policy if pin is not None else None
    else:
        baseline = promotion.baseline
    return PromotionGate(
        rule=promotion.rule,
        judge=promotion.judge,
        baseline=baseline,
        lineage=lineage_root(pipeline),
        snapshot=join_uri(run_root(pipeline), SNAPSHOT_FILE),
        pointer_etag=pin.etag if pin is not None else None,
        run=pipeline.spec.run_id,
        pipeline=pipeline.metadata.name,
        scheduled_time=run.scheduled_time if run is not None else None,
        probe=promotion.probe or evaluation.prompts,
        drift_threshold=promotion.drift_threshold,
    )


def warm_start(pipeline: AlignmentPipeline, run: RunSnapshot | None) -> str | None:
    """The promoted policy the alignments start from, with ``promotion.warmStart`` and one promoted."""
    promotion = pipeline.spec.promotion
    if promotion is None or not promotion.warm_start or run is None or run.promoted is None:
        return None
    return run.promoted.policy


def stage_execution(spec: AlignmentPipelineSpec, resources: StageResources | None = None) -> StageExecution:
    """How a pipeline's stages run: its image, retries, Kubernetes settings, store access and ``suspend``,
    with one stage's ``resources``; the field paths under ``execution`` are the pipeline's under ``spec``
    (``image``, ``kubernetes.…``, ``storage.credentialsSecret``)."""
    access = StorageAccess(
        endpoint_url=spec.storage.endpoint_url,
        region=spec.storage.region,
        credentials_secret=spec.storage.credentials_secret,
    )
    return StageExecution(
        image=spec.image,
        resources=resources or StageResources(),
        retry=spec.retry,
        kubernetes=spec.kubernetes,
        storage=access,
        suspend=spec.suspend,
    )


def compose(
    pipeline: AlignmentPipeline,
    run: RunSnapshot | None = None,
    reused: Mapping[str, Reuse] | None = None,
) -> Composition:
    """The pipeline's stages with inputs, outputs, pinned data and work digests filled in, and their graph.

    ``run``: what the run pinned when it started (each stage carries the pins of the data references it
    reads; the evaluation's promotion gate, the pointer version); ``reused``: stages whose work an earlier
    run committed (their artifacts are wired in instead of this run's outputs).
    """
    pins = dict(run.data) if run is not None else {}
    reuse = dict(reused or {})
    root = run_root(pipeline)
    gate = promotion_gate(pipeline, run)
    warm = warm_start(pipeline, run)
    symbolic = _drafts(pipeline, SYMBOLIC_ROOT, gate, warm)
    retry = _retry(pipeline)
    graph = Graph(
        tuple(
            StageNode(name, _kind_of(res), needs, _digest(_spec_of(res), pins), retry)
            for name, res, _, needs in symbolic
        )
    )
    digests = graph.work_digests
    where = {name: (reuse[name].uri if name in reuse else join_uri(root, name)) for name, *_ in symbolic}
    stages = []
    for name, res, resources, _ in _drafts(pipeline, where, gate, warm):
        execution = stage_execution(pipeline.spec, resources)
        meta = res.metadata.model_copy(
            update={"annotations": {**res.metadata.annotations, WORK_DIGEST: digests[name]}}
        )
        draft_spec = _spec_of(res)
        mine = {ref: pins[ref] for _, ref in iter_data_refs(draft_spec) if ref in pins}
        stage_spec = draft_spec.model_copy(update={"execution": execution, "snapshot": mine})
        stages.append(
            ComposedStage(name, res.model_copy(update={"metadata": meta, "spec": stage_spec}), resources)
        )
    return Composition(pipeline, root, tuple(stages), graph, reuse)


def with_scheduled_time(pipeline: AlignmentPipeline, scheduled: datetime) -> AlignmentPipeline:
    """The pipeline with every ``{{scheduledTime:FORMAT}}`` of its data references filled."""
    from pro.spec.placeholders import fill_time

    refs = {ref for _, ref in data_refs(pipeline)}
    if not any("{{" in ref for ref in refs):
        return pipeline

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value in refs:
            return fill_time(value, scheduled)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return AlignmentPipeline.model_validate(fill(pipeline.to_dict()))


__all__ = [
    "ADAPTER",
    "ALIGN",
    "BASELINE",
    "EVAL",
    "ComposedStage",
    "Composition",
    "Reuse",
    "child_name",
    "compose",
    "content_id",
    "data_refs",
    "lineage",
    "lineage_root",
    "promotion_gate",
    "run_root",
    "stage_execution",
    "with_scheduled_time",
    "work_digest",
]
