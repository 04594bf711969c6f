"""The work queue: dedup, re-queue while active, delayed re-queues, and the two lanes (progress before
admission, admissions capped)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta

import pytest

from pro_operator import clock
from pro_operator.kube import Conflict
from pro_operator.workqueue import Lane, WorkQueue

pytestmark = pytest.mark.unit


def run(test: Callable[[], object]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))  # type: ignore[arg-type]


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def admissions(*keys: str) -> Callable[[Hashable], Lane]:
    return lambda key: Lane.ADMISSION if key in keys else Lane.PROGRESS


def test_progress_goes_before_admission_and_each_key_runs_once() -> None:
    done: list[Hashable] = []

    async def test() -> None:
        q = WorkQueue(done.append, workers=1, lane=admissions("new-1", "new-2"))  # type: ignore[arg-type]
        for key in ("new-1", "new-2", "running-1", "new-1", "running-2", "running-1"):
            q.add(key)
        assert len(q) == 4 and q.depth(Lane.ADMISSION) == 2 and q.depth(Lane.PROGRESS) == 2
        q.start()
        await until(lambda: len(done) == 4)
        await q.stop()

    run(test)
    assert done == ["running-1", "running-2", "new-1", "new-2"]


def test_admissions_run_at_most_admission_workers_at_once_while_progress_goes_on() -> None:
    release = threading.Event()
    lock = threading.Lock()
    running: dict[str, int] = {"admission": 0, "progress": 0}
    peak: dict[str, int] = {"admission": 0, "progress": 0}
    done: list[Hashable] = []

    def handler(key: Hashable) -> None:
        lane = "admission" if str(key).startswith("new") else "progress"
        with lock:
            running[lane] += 1
            peak[lane] = max(peak[lane], running[lane])
        if lane == "admission":
            release.wait(10)
        else:
            time.sleep(0.02)
        with lock:
            running[lane] -= 1
            done.append(key)

    async def test() -> None:
        q = WorkQueue(handler, workers=4, admission_workers=1, lane=lambda k: (
            Lane.ADMISSION if str(k).startswith("new") else Lane.PROGRESS))  # fmt: skip
        for i in range(3):
            q.add(f"new-{i}")
        q.start()
        await until(lambda: running["admission"] == 1)
        for i in range(6):  # progress keeps flowing past the admission that holds its worker
            q.add(f"running-{i}")
        await until(lambda: sum(1 for k in done if str(k).startswith("running")) == 6)
        assert running["admission"] == 1 and q.depth(Lane.ADMISSION) == 2
        release.set()
        await until(lambda: len(done) == 9)
        await q.stop()

    run(test)
    assert peak["admission"] == 1 and peak["progress"] >= 2


def test_a_key_promoted_to_progress_leaves_the_admission_lane() -> None:
    lanes = {"a": Lane.ADMISSION, "b": Lane.ADMISSION, "c": Lane.ADMISSION}
    done: list[Hashable] = []

    async def test() -> None:
        q = WorkQueue(done.append, workers=1, lane=lambda k: lanes[str(k)])  # type: ignore[arg-type]
        for key in "abc":
            q.add(key)
        lanes["c"] = Lane.PROGRESS  # e.g. it got a status meanwhile
        q.add("c")
        assert q.depth(Lane.PROGRESS) == 1 and q.depth(Lane.ADMISSION) == 2
        q.start()
        await until(lambda: len(done) == 3)
        await asyncio.sleep(0.05)
        await q.stop()

    run(test)
    assert done == ["c", "a", "b"]


def test_a_key_added_during_its_reconcile_runs_again_after_it_never_at_the_same_time() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[float] = []
    overlap: list[bool] = []
    active = threading.Lock()

    def handler(key: Hashable) -> None:
        overlap.append(not active.acquire(blocking=False))
        try:
            calls.append(time.monotonic())
            started.set()
            if len(calls) == 1:
                release.wait(10)
        finally:
            if not overlap[-1]:
                active.release()

    async def test() -> None:
        q = WorkQueue(handler, workers=4)
        q.start()
        q.add("k")
        await until(started.is_set)
        q.add("k")
        q.add("k")
        release.set()
        await until(lambda: len(calls) == 2)
        await asyncio.sleep(0.05)
        await q.stop()

    run(test)
    assert len(calls) == 2 and not any(overlap)


def test_delayed_requeue_conflict_and_error_backoff() -> None:
    calls: dict[str, list[float]] = {"later": [], "conflict": [], "boom": []}

    def handler(key: Hashable) -> datetime | None:
        calls[str(key)].append(time.monotonic())
        n = len(calls[str(key)])
        if key == "later" and n == 1:
            return clock.now() + timedelta(seconds=0.3)
        if key == "conflict" and n == 1:
            raise Conflict("patch x: the object has been modified", 409)
        if key == "boom" and n < 3:
            raise RuntimeError("transient")
        return None

    async def test() -> None:
        q = WorkQueue(handler, workers=2, max_backoff=0.6)
        q.start()
        for key in calls:
            q.add(key)
        await until(
            lambda: len(calls["later"]) == 2 and len(calls["conflict"]) == 2 and len(calls["boom"]) == 3
        )
        await asyncio.sleep(0.2)
        await q.stop()

    run(test)
    later, conflict, boom = calls["later"], calls["conflict"], calls["boom"]
    assert len(later) == 2 and later[1] - later[0] >= 0.28
    assert len(conflict) == 2 and conflict[1] - conflict[0] < 0.5
    assert (
        len(boom) == 3 and boom[1] - boom[0] >= 0.45 and boom[2] - boom[1] >= 0.55
    )  # 0.5 s, then capped 0.6


@pytest.mark.parametrize(
    ("workers", "admission", "error"),
    [(0, None, "workers must be ≥ 1"), (4, 0, "admission_workers must be in 1..4"), (2, 3, "in 1..2")],
)
def test_bad_worker_counts_are_refused(workers: int, admission: int | None, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        WorkQueue(lambda key: None, workers=workers, admission_workers=admission)


def test_admission_workers_default_to_a_quarter_of_the_workers() -> None:
    assert WorkQueue(lambda key: None, workers=8).admission_workers == 2
    assert WorkQueue(lambda key: None, workers=2).admission_workers == 1


def test_on_busy_says_when_progress_starts_and_stops_waiting_for_a_worker() -> None:
    release = threading.Event()
    said: list[bool] = []

    def handler(key: Hashable) -> None:
        if key == "slow":
            release.wait(10)

    async def test() -> None:
        q = WorkQueue(handler, workers=1, on_busy=said.append, lane=admissions("new"))
        q.start()
        q.add("slow")
        await until(lambda: len(q) == 0)  # it waited until the worker took it; now nothing waits
        assert said == [True, False]
        said.clear()
        q.add("new")  # an admission waiting is not progress waiting
        assert said == []
        q.add("a")
        q.add("b")
        assert said == [True]
        release.set()
        await until(lambda: len(q) == 0)
        await q.stop()

    run(test)
    assert said == [True, False]
