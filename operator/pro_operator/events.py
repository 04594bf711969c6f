"""Events, recorded off the reconciles' critical path and after them: an Event is bookkeeping, a
reconcile is the pipeline's progress.

One background thread posts the Events in the order they were recorded (each carries the time of its
reconcile, so ``kubectl describe`` orders them right however late they are posted).  While reconciles
wait for a worker (the API server is the bottleneck: its time is better spent on them), a queued Event
waits too, up to ``max_hold`` seconds.  Like client-go's recorder, the backlog is bounded: past
``limit`` Events a new one is dropped, counted and logged, rather than memory growing without end.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from pro_operator import metrics
from pro_operator.kube import Kube, KubeError

log = logging.getLogger("pro_operator.events")

Obj = dict[str, Any]


class Event(NamedTuple):
    """A core/v1 Event to record on an object."""

    reason: str
    """CamelCase."""
    message: str
    warning: bool = False
    """``Warning`` (else ``Normal``)."""


def involved_object(body: Obj) -> Obj:
    """What an Event needs of its object: its identity (a queued Event must not hold the whole body)."""
    meta = body["metadata"]
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "resourceVersion")},
    }


def post(kube: Kube, involved: Obj, events: Sequence[Event], now: str) -> None:
    """Post ``events`` on ``involved`` now; a failure is worth a log line, not a failed reconcile."""
    for reason, message, warning in events:
        try:
            kube.event(involved, reason, message, warning=warning, now=now)
        except KubeError as err:
            log.warning("cannot record event %s on %s: %s", reason, involved["metadata"]["name"], err)


class EventRecorder:
    """``record()`` from any thread returns at once; the Events are posted by a background thread when
    no reconcile waits (see :meth:`hold`), or ``max_hold`` seconds after their turn came."""

    def __init__(self, kube: Kube, *, limit: int = 20000, max_hold: float = 1.0) -> None:
        if limit < 1:
            raise ValueError(f"limit must be ≥ 1, got {limit}")
        self.kube = kube
        self.limit = limit
        self.max_hold = max_hold
        self._pending: deque[tuple[Obj, Event, str]] = deque()
        self._ready = threading.Condition()
        self._clear = threading.Event()
        self._clear.set()
        self._closed = False
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def record(self, body: Obj, events: Sequence[Event], now: str) -> None:
        """Queue ``events`` on ``body`` (recorded at ``now``); once closed, post them at once."""
        involved = involved_object(body)
        with self._ready:
            if not self._closed:
                self._enqueue(involved, events, now)
                return
        post(self.kube, involved, events, now)  # a reconcile ending during shutdown: nothing is lost

    def _enqueue(self, involved: Obj, events: Sequence[Event], now: str) -> None:
        """Queue ``events`` (the caller holds ``self._ready``), dropping past ``limit``."""
        for event in events:
            if len(self._pending) >= self.limit:
                self._dropped += 1
                metrics.EVENTS_DROPPED.inc()
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    log.warning(
                        "%d Events waiting to be posted: dropped %s on %s (%d dropped so far)",
                        self.limit, event[0], involved["metadata"]["name"], self._dropped,
                    )  # fmt: skip
                continue
            self._pending.append((involved, event, now))
        metrics.EVENTS_PENDING.set(len(self._pending))
        self._ready.notify()

    def hold(self, busy: bool) -> None:
        """Reconciles wait for a worker (True) or none does (False): Events wait while they do."""
        if busy:
            self._clear.clear()
        else:
            self._clear.set()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every queued Event is posted; whether they all were."""
        with self._ready:
            return self._ready.wait_for(lambda: not self._pending, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Post what is queued (for at most ``timeout`` seconds, holding for nothing) and stop; Events
        recorded afterwards are posted by the caller's thread."""
        self._clear.set()
        self.flush(timeout)
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _run(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                involved, event, now = self._pending[0]  # taken off once posted (see flush)
            self._clear.wait(self.max_hold)
            post(self.kube, involved, [event], now)
            with self._ready:
                self._pending.popleft()
                metrics.EVENTS_PENDING.set(len(self._pending))
                self._ready.notify_all()
