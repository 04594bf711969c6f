"""The operator checks what ``kubectl apply`` sent when the object still holds it (#18 item 11): a field the
API server pruned is named as the user wrote it; a stale annotation (the spec changed since) is ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pro.spec import SpecError
from pro.spec.openapi import as_stored, crd_schema
from pro.spec.stages import RewardModelTraining
from pro_operator.specs import LAST_APPLIED, applied, parse_body

pytestmark = pytest.mark.unit

SENT: dict[str, Any] = {
    "apiVersion": "pro.alignment.dev/v1alpha1",
    "kind": "RewardModelTraining",
    "metadata": {"name": "rm", "namespace": "ns"},
    "spec": {
        "objective": "helpfulness",
        "data": {"format": "jsonl", "path": "pairs.jsonl"},
        "model": {"name": "some/model"},
        "training": {"max_steps": 5},  # snake_case: the API server drops it and trains 1000 steps
        "output": "s3://b/rm",
    },
}


def stored(sent: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server keeps it: pruned and defaulted, with kubectl's annotation."""
    schema = crd_schema(RewardModelTraining)["properties"]["spec"]
    meta = {**sent["metadata"], "uid": "u1", "generation": 1, "annotations": {LAST_APPLIED: json.dumps(sent)}}
    return {**sent, "metadata": meta, "spec": as_stored(sent["spec"], schema)}


def test_a_pruned_field_is_named_as_the_user_wrote_it() -> None:
    body = stored(SENT)
    assert "max_steps" not in json.dumps(body["spec"]) and body["spec"]["training"]["maxSteps"] == 1000
    with pytest.raises(SpecError) as err:
        parse_body("RewardModelTraining", body)
    (problem,) = err.value.problems
    assert problem.path == "spec.training.max_steps" and "write 'maxSteps'" in problem.message


def test_an_annotation_the_object_no_longer_holds_is_ignored() -> None:
    body = stored(SENT)
    body["spec"]["training"]["maxSteps"] = 5  # fixed later with kubectl patch: the annotation is stale
    assert applied("RewardModelTraining", body) is None
    assert parse_body("RewardModelTraining", body).spec.training.max_steps == 5


def test_without_an_annotation_the_object_is_what_is_checked() -> None:
    body = stored({**SENT, "spec": {**SENT["spec"], "training": {"maxSteps": 5}}})
    del body["metadata"]["annotations"]
    assert parse_body("RewardModelTraining", body).spec.training.max_steps == 5
