"""A work queue like controller-runtime's: each key is queued at most once, never reconciled twice at
the same time, re-queued when triggered during its reconcile, and delayed re-queues wake on time.

Two lanes, like controller-runtime's priority queue: **progress** (work on what already runs: a job
that finished, a stage whose inputs are ready) always goes first; **admission** (the first reconcile of
a new pipeline) takes a free worker only when no progress waits, and at most ``admission_workers`` at a
time.  A burst of new pipelines then cannot delay the next stage of pipelines already running: they
are admitted as fast as the progress of the admitted ones leaves room for.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from datetime import datetime
from enum import IntEnum

from pro_operator import clock, metrics
from pro_operator.kube import Conflict

log = logging.getLogger("pro_operator.workqueue")

Handler = Callable[[Hashable], datetime | None]


class Lane(IntEnum):
    PROGRESS = 0
    ADMISSION = 1


class WorkQueue:
    """``add(key)`` from the event loop; ``handler(key)`` runs in a worker thread and returns when to
    reconcile the key again (None: only on the next event).  ``lane(key)`` says which lane a key
    queues in, asked each time it is queued (default: all progress); ``on_busy(True)`` is called when
    progress starts waiting for a worker, ``on_busy(False)`` when none waits any more."""

    def __init__(
        self,
        handler: Handler,
        *,
        workers: int = 4,
        admission_workers: int | None = None,
        lane: Callable[[Hashable], Lane] = lambda key: Lane.PROGRESS,
        on_busy: Callable[[bool], None] = lambda busy: None,
        max_backoff: float = 300.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.handler = handler
        self.workers = workers
        self.admission_workers = max(1, workers // 4) if admission_workers is None else admission_workers
        if not 1 <= self.admission_workers <= workers:
            raise ValueError(f"admission_workers must be in 1..{workers}, got {self.admission_workers}")
        self.lane = lane
        self.on_busy = on_busy
        self._busy = False
        self.max_backoff = max_backoff
        self._lanes: dict[Lane, deque[Hashable]] = {Lane.PROGRESS: deque(), Lane.ADMISSION: deque()}
        self._queued: dict[Hashable, Lane] = {}
        self._count = dict.fromkeys(Lane, 0)
        self._active: set[Hashable] = set()
        self._admitting = 0
        self._dirty: set[Hashable] = set()
        self._ready = asyncio.Event()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._counter = 0
        self._wake = asyncio.Event()
        self._failures: dict[Hashable, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = 0
        self._idle = threading.Condition()

    def add(self, key: Hashable, *, after: float = 0.0) -> None:
        """Reconcile ``key`` now (or in ``after`` seconds)."""
        if after > 0:
            self._counter += 1
            heapq.heappush(self._delayed, (time.monotonic() + after, self._counter, key))
            self._wake.set()
            return
        if key in self._active:
            self._dirty.add(key)
            return
        lane = self.lane(key)
        queued = self._queued.get(key)
        if queued is not None and queued <= lane:
            return  # already waiting, in this lane or a faster one
        # new, or promoted to progress (its entry in the admission lane is skipped when reached)
        if queued is not None:
            self._count[queued] -= 1
        self._count[lane] += 1
        self._queued[key] = lane
        self._lanes[lane].append(key)
        self._ready.set()
        self._gauge()

    def add_at(self, key: Hashable, when: datetime) -> None:
        self.add(key, after=max(0.0, (when - clock.now()).total_seconds()))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._timer()))

    async def stop(self, *, drain: float = 0.0) -> None:
        """Take no more keys; with ``drain``, wait up to that many seconds for the reconciles running
        in worker threads to return (a cancelled worker does not stop its thread)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if drain > 0:
            await asyncio.to_thread(self._wait_idle, drain)

    def _run(self, key: Hashable) -> datetime | None:
        """The handler, counted while it runs (in a worker thread)."""
        with self._idle:
            self._running += 1
        try:
            return self.handler(key)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def __len__(self) -> int:
        return len(self._queued)

    def depth(self, lane: Lane) -> int:
        return self._count[lane]

    def _gauge(self) -> None:
        for lane, n in self._count.items():
            metrics.QUEUE_DEPTH.labels(lane=lane.name.lower()).set(n)
        busy = self._count[Lane.PROGRESS] > 0
        if busy != self._busy:
            self._busy = busy
            self.on_busy(busy)

    def _take(self) -> tuple[Hashable, Lane] | None:
        """The next key a free worker may take: progress first; admission only while fewer than
        ``admission_workers`` admissions run."""
        for lane in Lane:
            if lane is Lane.ADMISSION and self._admitting >= self.admission_workers:
                return None
            waiting = self._lanes[lane]
            while waiting:
                key = waiting.popleft()
                if self._queued.get(key) is lane:  # else: promoted meanwhile, or taken already
                    del self._queued[key]
                    self._count[lane] -= 1
                    return key, lane
        return None

    async def _next(self) -> tuple[Hashable, Lane]:
        while True:
            taken = self._take()
            if taken is not None:
                return taken
            self._ready.clear()
            await self._ready.wait()

    async def _timer(self) -> None:
        while True:
            now = time.monotonic()
            while self._delayed and self._delayed[0][0] <= now:
                _, _, key = heapq.heappop(self._delayed)
                self.add(key)
            timeout = self._delayed[0][0] - now if self._delayed else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _worker(self) -> None:
        while True:
            key, lane = await self._next()
            self._active.add(key)
            if lane is Lane.ADMISSION:
                self._admitting += 1
            self._gauge()
            try:
                again = await asyncio.to_thread(self._run, key)
                self._failures.pop(key, None)
                if again is not None:
                    self.add_at(key, again)
            except Conflict as err:
                log.info("conflict on %s, reconciling again: %s", key, err)
                self.add(key, after=0.05)
            except Exception as err:
                n = self._failures.get(key, 0) + 1
                self._failures[key] = n
                delay = min(self.max_backoff, 0.5 * 2 ** (n - 1))
                kind = key[0] if isinstance(key, tuple) else "?"
                metrics.RECONCILE_ERRORS.labels(kind=kind, error=type(err).__name__).inc()
                log.error("reconcile of %s failed (retry in %.1fs): %s", key, delay, err, exc_info=n == 1)
                self.add(key, after=delay)
            finally:
                self._active.discard(key)
                if lane is Lane.ADMISSION:
                    self._admitting -= 1
                    self._ready.set()  # an admission slot is free
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
