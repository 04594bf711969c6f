"""A work queue like controller-runtime's: each key is queued at most once, never reconciled twice at
the same time, re-queued when triggered during its reconcile, and delayed re-queues wake on time."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Hashable
from datetime import datetime

from pro_operator import clock, metrics
from pro_operator.kube import Conflict

log = logging.getLogger("pro_operator.workqueue")

Handler = Callable[[Hashable], datetime | None]


class WorkQueue:
    """``add(key)`` from anywhere in the event loop; ``handler(key)`` runs in a worker thread and returns
    when to reconcile the key again (None: only on the next event)."""

    def __init__(self, handler: Handler, *, workers: int = 8, max_backoff: float = 300.0) -> None:
        self.handler = handler
        self.workers = workers
        self.max_backoff = max_backoff
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()
        self._active: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._counter = 0
        self._wake = asyncio.Event()
        self._failures: dict[Hashable, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: Hashable, *, after: float = 0.0) -> None:
        """Reconcile ``key`` now (or in ``after`` seconds)."""
        if after > 0:
            self._counter += 1
            heapq.heappush(self._delayed, (time.monotonic() + after, self._counter, key))
            self._wake.set()
            return
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
        metrics.QUEUE_DEPTH.set(len(self._queued))

    def add_at(self, key: Hashable, when: datetime) -> None:
        self.add(key, after=max(0.0, (when - clock.now()).total_seconds()))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._timer()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._queued)

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
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            metrics.QUEUE_DEPTH.set(len(self._queued))
            try:
                again = await asyncio.to_thread(self.handler, key)
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
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
