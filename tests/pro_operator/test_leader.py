"""The leader election's decisions (pure, on a fake clock), the Lease bodies it writes, and its loop
against an in-memory Lease store that keeps the API server's rules (resourceVersion preconditions,
AlreadyExists), including one that fails or hangs."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from pro_operator import metrics
from pro_operator.kube import Conflict, KubeError, NotFound
from pro_operator.leader import (
    Act,
    Elector,
    Lease,
    Memory,
    Record,
    Timing,
    claim,
    decide,
    expires_in,
    observe,
    released,
)

pytestmark = pytest.mark.unit

ME, OTHER = "op-a_111111", "op-b_222222"
T = Timing()  # 15 / 10 / 2
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
NS, NAME = "pro-system", "pro-operator-leader"


def lease(
    holder: str, *, duration: int = 15, transitions: int = 0, renewed: str = "t0", rv: str = "1"
) -> Lease:
    return Lease(Record(holder, duration, transitions, "t0", renewed), rv)


# ----------------------------------------------------------------------------- timing
def test_the_defaults_are_controller_runtimes() -> None:
    assert (T.lease_duration, T.renew_deadline, T.retry_period, T.lease_seconds) == (15, 10, 2, 15)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((10, 10, 2), "the lease duration (10 s) must be longer than the renew deadline (10 s)"),
        ((15, 2, 2), "the renew deadline (2 s) must be longer than 1.2 × the retry period (2 s)"),
        ((15, 10, 0), "must all be positive"),
    ],
)
def test_timings_that_would_let_two_replicas_act_are_refused(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Timing(*args)


# ----------------------------------------------------------------------------- decide, on a fake clock
def test_no_lease_is_created_and_a_released_one_is_taken_at_once() -> None:
    assert decide(Memory(), ME, T, now=0.0) is Act.CREATE
    free = observe(Memory(), lease(""), now=100.0)
    assert decide(free, ME, T, now=100.0) is Act.TAKE
    assert expires_in(free, 100.0) is None


def test_a_live_lease_is_waited_for_until_it_has_not_changed_for_its_duration() -> None:
    seen = observe(Memory(), lease(OTHER), now=100.0)
    assert decide(seen, ME, T, now=100.0) is Act.WAIT
    assert decide(seen, ME, T, now=114.9) is Act.WAIT
    assert expires_in(seen, 110.0) == pytest.approx(5.0)
    assert decide(seen, ME, T, now=115.0) is Act.TAKE
    # renewed meanwhile (a new renewTime): the wait starts again from when this replica saw it
    renewed = observe(seen, lease(OTHER, renewed="t1", rv="2"), now=112.0)
    assert renewed.observed_at == 112.0
    assert decide(renewed, ME, T, now=115.0) is Act.WAIT
    assert decide(renewed, ME, T, now=127.0) is Act.TAKE
    # the same record read again (or only its labels changed): no change, the wait runs on
    again = observe(renewed, lease(OTHER, renewed="t1", rv="3"), now=120.0)
    assert again.observed_at == 112.0
    # the holder's own duration counts, not this replica's
    short = observe(Memory(), lease(OTHER, duration=4), now=0.0)
    assert decide(short, ME, T, now=3.9) is Act.WAIT and decide(short, ME, T, now=4.0) is Act.TAKE


def test_the_holders_renew_time_is_never_compared_with_this_clock() -> None:
    """A lease renewed "an hour ago" by a skewed clock is live as long as it keeps changing: only this
    replica's own observations count."""
    stale_looking = Lease(
        Record(OTHER, 15, 0, "2026-12-01T11:00:00.000000Z", "2026-12-01T11:00:00.000000Z"), "9"
    )
    seen = observe(Memory(), stale_looking, now=50.0)
    assert decide(seen, ME, T, now=50.0) is Act.WAIT


def test_a_lease_already_naming_this_replica_is_taken_without_waiting() -> None:
    assert decide(observe(Memory(), lease(ME), now=0.0), ME, T, now=0.0) is Act.TAKE


def test_the_leader_renews_until_the_deadline_or_another_holder_then_stands_down() -> None:
    leading = Memory(lease(ME), observed_at=0.0, leading=True, renewed_at=0.0)
    assert decide(leading, ME, T, now=9.9) is Act.RENEW
    assert decide(leading, ME, T, now=10.0) is Act.STAND_DOWN  # before a standby may take it (15 s)
    taken = observe(leading, lease(OTHER, rv="5"), now=3.0)
    assert decide(taken, ME, T, now=3.0) is Act.STAND_DOWN
    assert decide(observe(leading, None, now=3.0), ME, T, now=3.0) is Act.STAND_DOWN  # deleted


# ----------------------------------------------------------------------------- the bodies written
def test_claims_count_transitions_only_when_the_lease_changes_hands() -> None:
    new = claim(None, ME, T, NOW, namespace=NS, name=NAME)
    assert new == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "holderIdentity": ME,
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-01T12:00:00.000000Z",
            "renewTime": "2026-12-01T12:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }
    theirs = Lease(Record(OTHER, 15, 3, "a", "r"), "7", {"name": NAME, "labels": {"team": "ml"}})
    taken = claim(theirs, ME, T, NOW, namespace=NS, name=NAME)
    assert taken["metadata"] == {
        "name": NAME,
        "namespace": NS,
        "labels": {"team": "ml"},
        "resourceVersion": "7",
    }
    assert taken["spec"]["leaseTransitions"] == 4 and taken["spec"]["acquireTime"].startswith("2026-12-01T12")
    mine = Lease(Record(ME, 15, 4, "acquired-earlier", "r"), "8")
    renewed = claim(mine, ME, T, NOW, namespace=NS, name=NAME)["spec"]
    assert renewed["leaseTransitions"] == 4 and renewed["acquireTime"] == "acquired-earlier"
    assert renewed["renewTime"] == "2026-12-01T12:00:00.000000Z"
    assert (
        claim(Lease(Record("", 1, 4), "9"), ME, T, NOW, namespace=NS, name=NAME)["spec"]["leaseTransitions"]
        == 5
    )


def test_a_release_clears_the_holder_and_shortens_the_lease_as_client_go_does() -> None:
    body = released(Lease(Record(ME, 15, 4, "a", "r"), "8"), NOW, namespace=NS, name=NAME)
    assert body["spec"] == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": "2026-12-01T12:00:00.000000Z",
        "renewTime": "2026-12-01T12:00:00.000000Z",
        "leaseTransitions": 4,
    }
    assert body["metadata"]["resourceVersion"] == "8"


# ----------------------------------------------------------------------------- the loop
class Leases:
    """One Lease kept as the API server keeps it: a write must carry the current resourceVersion, a
    second create is AlreadyExists.  ``fail`` makes every request raise; ``hang`` makes them block."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.rv = 0
        self.lock = threading.Lock()
        self.fail = False
        self.hang = threading.Event()
        self.hang.set()
        self.writes: list[str] = []
        self.specs: list[dict[str, Any]] = []
        """Every stored spec, in order (``writes`` holds their holders)."""

    def _gate(self) -> None:
        self.hang.wait()
        if self.fail:
            raise KubeError("cannot reach the API server")

    def get_lease(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any] | None:
        self._gate()
        with self.lock:
            return copy.deepcopy(self.obj)

    def create_lease(self, body: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        self._gate()
        with self.lock:
            if self.obj is not None:
                raise Conflict("create: already exists", 409)
            return self._store(body)

    def replace_lease(self, body: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        self._gate()
        with self.lock:
            if self.obj is None:
                raise NotFound("update: not found", 404)
            if body["metadata"].get("resourceVersion") != self.obj["metadata"]["resourceVersion"]:
                raise Conflict("update: the object has been modified", 409)
            return self._store(body)

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        self.obj = copy.deepcopy(body)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        self.writes.append(body["spec"]["holderIdentity"])
        self.specs.append(copy.deepcopy(body["spec"]))
        return copy.deepcopy(self.obj)

    def holder(self) -> str:
        return (self.obj or {}).get("spec", {}).get("holderIdentity", "")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def elector(leases: Leases, me: str, clock: Clock | None = None, timing: Timing = T) -> Elector:
    return Elector(leases, NS, NAME, me, timing, clock=clock or Clock(), wall=lambda: NOW)  # type: ignore[arg-type]


def test_two_candidates_reading_the_same_free_lease_never_both_win() -> None:
    leases = Leases()
    a, b = elector(leases, ME), elector(leases, OTHER)
    # both see no lease, both create: the second create is AlreadyExists
    a.memory, b.memory = a.tick(Memory()), b.tick(Memory())
    assert a.leading and not b.leading and leases.holder() == ME
    # a released lease read by both, then both write over the version they read: one wins
    assert a.release() and leases.holder() == ""
    seen = Lease.from_k8s(leases.obj or {})
    read = Memory(seen, observed_at=0.0)
    first, second = elector(leases, OTHER), elector(leases, ME)
    assert decide(read, OTHER, T, 0.0) is Act.TAKE and decide(read, ME, T, 0.0) is Act.TAKE
    won = first._won(leases.replace_lease(first._claim(seen)), 0.0)
    with pytest.raises(Conflict):
        leases.replace_lease(second._claim(seen))
    assert won.leading and leases.holder() == OTHER
    assert (leases.obj or {})["spec"]["leaseTransitions"] == 1  # taken over from nobody (released)


def test_a_standby_takes_over_an_expired_lease_counting_the_transition() -> None:
    leases, clock = Leases(), Clock()
    a = elector(leases, ME, clock)
    a.memory = a.tick(Memory())
    b = elector(leases, OTHER, clock)
    b.memory = b.tick(Memory())  # observed at t=1000
    assert not b.memory.leading
    clock.t += 14.9
    b.memory = b.tick(b.memory)
    assert not b.memory.leading and leases.holder() == ME
    clock.t += 0.1  # a stopped renewing 15 s ago (as b saw it)
    b.memory = b.tick(b.memory)
    assert b.memory.leading and leases.holder() == OTHER
    assert (leases.obj or {})["spec"]["leaseTransitions"] == 1
    # the old leader's next renewal conflicts; it reads, sees the new holder and stands down
    a.memory = a.tick(a.memory)
    assert decide(a.memory, ME, T, clock.t) is Act.STAND_DOWN
    assert leases.holder() == OTHER


FAST = Timing(1.0, 0.5, 0.1)


def lead_then(leases: Leases, fault: Callable[[], None]) -> tuple[list[str], float]:
    """An elector on ``leases`` leads; then ``fault()``: why it stood down, and how long after."""
    e = Elector(leases, NS, NAME, ME, FAST, wall=lambda: NOW)  # type: ignore[arg-type]

    async def main() -> tuple[list[str], float]:
        lost: list[str] = []
        task = asyncio.create_task(e.run(lambda: None, lost.append))
        while not e.leading:
            await asyncio.sleep(0.01)
        assert metrics.LEADER._value.get() == 1
        fault()
        started = time.monotonic()
        try:
            await asyncio.wait_for(task, 5)
        finally:
            leases.hang.set()  # a hung request returns (asyncio.run waits for its thread)
        return lost, time.monotonic() - started

    lost, after = asyncio.run(main())
    assert not e.leading and metrics.LEADER._value.get() == 0
    return lost, after


def test_a_leader_that_cannot_renew_stands_down_at_its_deadline() -> None:
    leases = Leases()
    lost, after = lead_then(leases, lambda: setattr(leases, "fail", True))
    assert lost == ["no renewal succeeded for 0.5 s"]
    assert after < FAST.lease_duration  # stood down before a standby could take the lease


def test_a_leader_whose_renewal_hangs_stands_down_without_waiting_for_it() -> None:
    leases = Leases()
    lost, _ = lead_then(leases, leases.hang.clear)  # the API server stops answering
    assert lost == ["no renewal succeeded for 0.5 s"]


def test_a_leader_that_finds_another_holder_stands_down_at_its_next_renewal() -> None:
    leases = Leases()

    def taken() -> None:  # someone else writes the lease (e.g. a replica that saw it expire)
        with leases.lock:
            leases._store(claim(Lease.from_k8s(leases.obj or {}), OTHER, FAST, NOW, namespace=NS, name=NAME))

    lost, _ = lead_then(leases, taken)
    assert lost == [f"the lease is held by {OTHER} now"]
    assert leases.holder() == OTHER


def test_stop_releases_the_lease_of_a_leader_and_nothing_of_a_standby() -> None:
    leases = Leases()
    a = Elector(leases, NS, NAME, ME, FAST, wall=lambda: NOW)  # type: ignore[arg-type]
    b = Elector(leases, NS, NAME, OTHER, FAST, wall=lambda: NOW)  # type: ignore[arg-type]
    led: list[str] = []

    async def main() -> None:
        a.start(lambda: led.append(ME), lambda why: led.append(f"lost {why}"))
        while not a.leading:
            await asyncio.sleep(0.01)
        b.start(lambda: led.append(OTHER), lambda why: led.append(f"lost {why}"))
        await asyncio.sleep(0.3)
        assert not b.leading
        before = len(leases.specs)
        await a.stop()
        # a released the Lease (after at most a renewal that was in flight); b may take it at once,
        # before this line runs, so the writes are read, not the Lease as it is now
        after = [(sp["holderIdentity"], sp["leaseDurationSeconds"]) for sp in leases.specs[before:]]
        first = next(i for i, (holder, _) in enumerate(after) if holder != ME)
        assert after[first] == ("", 1), after
        while not b.leading:  # at its next retry, not after the lease duration
            await asyncio.sleep(0.01)
        writes = len(leases.writes)
        await b.stop()
        assert leases.holder() == "" and len(leases.writes) == writes + 1

    asyncio.run(main())
    assert led == [ME, OTHER]
