"""Relative paths in a resource file are relative to its directory: which fields are paths, and how each
kind of value resolves (URIs, absolute paths, hub ids, keywords and placeholders left alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.spec.align import PolicyAlignment
from pro.spec.evaluation import PolicyEvaluation
from pro.spec.kinds import load_local, load_resource
from pro.spec.paths import relative_paths, resolve_path, resolved
from pro.spec.pipeline import AlignmentPipeline

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def test_resolve_path_keeps_a_prefix_and_placeholders() -> None:
    assert resolve_path("toy-out/pairs/x.jsonl", "/a/b") == "/a/b/toy-out/pairs/x.jsonl"
    assert resolve_path("../data/", "/a/b") == "/a/data/"  # a prefix stays a prefix
    assert (
        resolve_path("./drops/{{scheduledTime:%Y-%m-%d}}/h.jsonl", "/a")
        == "/a/drops/{{scheduledTime:%Y-%m-%d}}/h.jsonl"
    )


def test_every_path_field_of_the_toy_pipeline_resolves_and_nothing_else() -> None:
    pipeline = load_resource(REPO / "examples/toy/pipeline.yaml")
    found = dict(relative_paths(pipeline))
    assert found["spec.storage.uri"] == "toy-out/store"
    assert (
        found["spec.evaluation.judge.world"] == "toy-out"
        and found["spec.alignment.init.data"] == "toy-out/sft.jsonl"
    )
    assert len(found) == 14
    r = resolved(pipeline, "/base")
    assert isinstance(r, AlignmentPipeline) and relative_paths(r) == []
    assert r.spec.storage.uri == "/base/toy-out/store" and r.spec.alignment.world == "/base/toy-out"
    assert r.spec.objectives[0].data.path == "/base/toy-out/pairs/helpfulness.jsonl"
    assert r.metadata == pipeline.metadata and r.spec.alignment.beta == pipeline.spec.alignment.beta
    assert load_local(REPO / "examples/toy/pipeline.yaml") == resolved(pipeline, str(REPO / "examples/toy"))


def test_uris_absolute_paths_hub_ids_and_keywords_stay() -> None:
    doc = {
        "apiVersion": "pro.alignment.dev/v1alpha1", "kind": "PolicyEvaluation", "metadata": {"name": "e"},
        "spec": {
            "policyA": {"name": "a", "uri": "s3://bucket/runs/align"},
            "policyB": {"name": "b", "uri": "file:///data/uniform"},
            "prompts": "/data/heldout.jsonl",
            "judge": {"kind": "pairwise", "model": "Qwen/Qwen2.5-0.5B-Instruct"},
            "rewardModels": {"humor": "store/rm-humor", "helpfulness": "~/rm-help"},
            "output": "out/eval",
        },
    }  # fmt: skip
    e = resolved(PolicyEvaluation.model_validate(doc), "/base")
    assert (e.spec.policy_a.uri, e.spec.policy_b.uri) == ("s3://bucket/runs/align", "file:///data/uniform")
    assert e.spec.prompts == "/data/heldout.jsonl" and e.spec.judge.model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert e.spec.reward_models == {"humor": "/base/store/rm-humor", "helpfulness": "~/rm-help"}
    assert e.spec.output == "/base/out/eval"
    local_judge = doc["spec"] | {"judge": {"kind": "pairwise", "model": "./judges/small"}}
    e = resolved(PolicyEvaluation.model_validate(doc | {"spec": local_judge}), "/base")
    assert e.spec.judge.model == "/base/judges/small"  # written as a path, it is one


def test_a_model_directory_and_the_promotion_keyword() -> None:
    align = load_resource(REPO / "examples/toy/align-pro.yaml")
    assert isinstance(align, PolicyAlignment)
    spec = align.spec.model_copy(update={"policy": align.spec.policy.model_copy(update={"name": "../models/p",
                                                                                        "config": None})})  # fmt: skip
    r = resolved(align.model_copy(update={"spec": spec}), "/x/y")
    assert (
        r.spec.policy.name == "/x/models/p" and r.spec.reward_models["humor"] == "/x/y/toy-out/store/rm-humor"
    )
    schedule = load_resource(REPO / "examples/toy/schedule.yaml")
    found = dict(relative_paths(schedule))
    assert "spec.pipelineTemplate.spec.promotion.baseline" not in found  # lastPromoted is a word
    drops = found["spec.pipelineTemplate.spec.objectives[0].data.path"]
    assert drops == "toy-out/drops/{{scheduledTime:%Y-%m-%d}}/helpfulness.jsonl"
