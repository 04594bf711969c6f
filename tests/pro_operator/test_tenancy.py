"""The namespace's limit of running stage jobs, decided from the cache: who waits, who gets a free slot."""

from __future__ import annotations

from typing import Any

import pytest

from pro.spec.guardrails import Guardrails
from pro_operator.cache import ObjectCache
from pro_operator.context import Context
from pro_operator.tenancy import queue_reason, wake_queued

pytestmark = pytest.mark.unit

RMS = "rewardmodeltrainings"


def stage(name: str, created: str, phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": "RewardModelTraining",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "1", "creationTimestamp": created},
        "status": {"phase": phase},
    }


def job(name: str, owner: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name, "namespace": "ns", "resourceVersion": "1",
            "ownerReferences": [{"kind": "RewardModelTraining", "name": owner, "controller": True}],
        },
        "spec": {"runPolicy": {"suspend": False}},
    }  # fmt: skip


def context(limit: int, *objects: tuple[str, dict[str, Any]]) -> tuple[Context, list[Any]]:
    cache, woken = ObjectCache(), []
    for plural, body in objects:
        cache.put(plural, body)
    guardrails = Guardrails(max_running_jobs_per_namespace=limit)
    return Context(kube=None, cache=cache, enqueue=woken.append, guardrails=guardrails), woken  # type: ignore[arg-type]


def me(name: str, created: str, namespace: str = "ns") -> dict[str, Any]:
    """A stage resource about to start a job."""
    body = stage(name, created, "Pending")
    body["metadata"]["namespace"] = namespace
    return body


def test_a_stage_waits_when_the_namespace_runs_its_limit() -> None:
    ctx, _ = context(2, ("pytorchjobs", job("rmt-a-1", "a")), ("pytorchjobs", job("rmt-b-1", "b")))
    assert queue_reason(ctx, RMS, me("c", "2026-01-01T00:00:03Z")) == "namespace limit 2 running jobs reached"
    assert queue_reason(ctx, RMS, me("c", "2026-01-01T00:00:03Z", "elsewhere")) is None  # per namespace
    unlimited, _ = context(0, ("pytorchjobs", job("rmt-a-1", "a")), ("pytorchjobs", job("rmt-b-1", "b")))
    assert queue_reason(unlimited, RMS, me("c", "2026-01-01T00:00:03Z")) is None


def test_stages_waiting_longer_get_the_free_slots_first() -> None:
    ctx, _ = context(
        2,
        ("pytorchjobs", job("rmt-a-1", "a")),
        (RMS, stage("old", "2026-01-01T00:00:01Z", "Queued")),
    )
    # one slot free, and it is the older waiting stage's
    assert queue_reason(ctx, RMS, me("new", "2026-01-01T00:00:05Z")) is not None
    assert queue_reason(ctx, RMS, me("old", "2026-01-01T00:00:01Z")) is None
    # once the older one's job runs (its status still says Queued), the slot count is not taken twice
    ctx.cache.put("pytorchjobs", job("rmt-old-1", "old"))
    assert queue_reason(ctx, RMS, me("new", "2026-01-01T00:00:05Z")) is not None  # 2 running: full
    ctx.cache.remove("pytorchjobs", "ns", "rmt-a-1")
    assert queue_reason(ctx, RMS, me("new", "2026-01-01T00:00:05Z")) is None


def test_a_freed_slot_wakes_the_oldest_waiting_stages() -> None:
    ctx, woken = context(
        3,
        ("pytorchjobs", job("rmt-a-1", "a")),
        (RMS, stage("third", "2026-01-01T00:00:03Z", "Queued")),
        (RMS, stage("first", "2026-01-01T00:00:01Z", "Queued")),
        (RMS, stage("second", "2026-01-01T00:00:02Z", "Queued")),
        (
            "adaptertrainings",
            {**stage("running", "2026-01-01T00:00:00Z", "Running"), "kind": "AdapterTraining"},
        ),
    )
    wake_queued(ctx, "ns")
    assert woken == [(RMS, "ns", "first"), (RMS, "ns", "second")]  # 2 free slots
    woken.clear()
    ctx.cache.put("pytorchjobs", job("rmt-b-1", "b"))
    ctx.cache.put("pytorchjobs", job("rmt-c-1", "c"))
    wake_queued(ctx, "ns")
    assert woken == []  # full
