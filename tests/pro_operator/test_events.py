"""The Event recorder against the real kube-apiserver: posted in order with the time they were recorded
at, held while reconciles wait (at most ``max_hold``), a bounded backlog that drops and says so, and
what is queued posted on close (and what comes after, at once)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from pro_operator import kube as k
from pro_operator import metrics
from pro_operator.events import EventRecorder
from tests.pro_operator.conftest import RMS, stage_body

pytestmark = pytest.mark.integration


def posted(core: Any, ns: str, name: str) -> list[tuple[str, str, str]]:
    """(reason, message, firstTimestamp) of the Events on ``name`` in the order they were posted."""
    items = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    found = sorted(items, key=lambda e: int(e.metadata.resource_version))
    return [(e.reason, e.message, e.first_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")) for e in found]


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def involved(api: tuple[k.Kube, str]) -> dict[str, Any]:
    kube, ns = api
    obj: dict[str, Any] = kube.create(k.custom_ref(RMS, ns, "rm-ev"), stage_body("rm-ev", ns))
    return obj


def test_events_are_posted_in_order_with_the_time_they_were_recorded_at(
    api: tuple[k.Kube, str], kube_namespace: Any, involved: dict[str, Any]
) -> None:
    kube, ns = api
    recorder = EventRecorder(kube)
    recorder.record(involved, [("Started", "attempt 1: job rm-ev-1", False)], "2026-12-01T00:00:00Z")
    recorder.record(
        involved, [("Failed", "boom", True), ("Started", "attempt 2", False)], "2026-12-01T00:00:05Z"
    )
    assert recorder.flush(10)
    recorder.close()
    assert posted(kube_namespace[0], ns, "rm-ev") == [
        ("Started", "attempt 1: job rm-ev-1", "2026-12-01T00:00:00Z"),
        ("Failed", "boom", "2026-12-01T00:00:05Z"),
        ("Started", "attempt 2", "2026-12-01T00:00:05Z"),
    ]


def test_events_wait_while_reconciles_wait_at_most_max_hold(
    api: tuple[k.Kube, str], kube_namespace: Any, involved: dict[str, Any]
) -> None:
    kube, ns = api
    core = kube_namespace[0]
    recorder = EventRecorder(kube, max_hold=30)
    recorder.hold(True)
    recorder.record(involved, [("Started", "held", False)], "2026-12-01T00:00:00Z")
    assert not recorder.flush(0.5) and posted(core, ns, "rm-ev") == []
    recorder.hold(False)
    until(lambda: len(posted(core, ns, "rm-ev")) == 1)

    impatient = EventRecorder(kube, max_hold=0.3)
    impatient.hold(True)  # and never released: posted anyway, max_hold later
    started = time.monotonic()
    impatient.record(involved, [("Succeeded", "late", False)], "2026-12-01T00:00:01Z")
    assert impatient.flush(10)
    assert time.monotonic() - started >= 0.3
    assert [r for r, _, _ in posted(core, ns, "rm-ev")] == ["Started", "Succeeded"]
    recorder.close()
    impatient.close()


def test_a_full_backlog_drops_new_events_counts_and_logs_them_and_close_posts_the_rest(
    api: tuple[k.Kube, str], kube_namespace: Any, involved: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    kube, ns = api
    recorder = EventRecorder(kube, limit=2, max_hold=30)
    recorder.hold(True)
    dropped = metrics.EVENTS_DROPPED._value.get()
    with caplog.at_level(logging.WARNING, logger="pro_operator.events"):
        recorder.record(involved, [(f"E{i}", f"event {i}", False) for i in range(4)], "2026-12-01T00:00:00Z")
    assert metrics.EVENTS_DROPPED._value.get() - dropped == 2
    assert metrics.EVENTS_PENDING._value.get() == 2
    assert "2 Events waiting to be posted: dropped E2 on rm-ev (1 dropped so far)" in caplog.text
    recorder.close()  # holds for nothing: the operator is stopping
    assert [r for r, _, _ in posted(kube_namespace[0], ns, "rm-ev")] == ["E0", "E1"]
    assert metrics.EVENTS_PENDING._value.get() == 0
    # a reconcile still finishing as the operator stops: posted at once, nothing waits in a dead queue
    recorder.record(involved, [("Late", "after close", False)], "2026-12-01T00:00:09Z")
    assert posted(kube_namespace[0], ns, "rm-ev")[-1] == ("Late", "after close", "2026-12-01T00:00:09Z")
    assert metrics.EVENTS_PENDING._value.get() == 0


def test_a_failed_post_is_logged_and_the_next_events_still_go(
    api: tuple[k.Kube, str], kube_namespace: Any, involved: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    kube, ns = api
    recorder = EventRecorder(kube)
    elsewhere = {**involved, "metadata": {**involved["metadata"], "namespace": "no-such-namespace"}}
    with caplog.at_level(logging.WARNING, logger="pro_operator.events"):
        recorder.record(elsewhere, [("Lost", "nowhere to go", False)], "2026-12-01T00:00:00Z")
        recorder.record(involved, [("Kept", "here", False)], "2026-12-01T00:00:01Z")
        assert recorder.flush(10)
    recorder.close()
    assert "cannot record event Lost on rm-ev: create events no-such-namespace/rm-ev" in caplog.text
    assert [r for r, _, _ in posted(kube_namespace[0], ns, "rm-ev")] == ["Kept"]
