"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's ``leaderelection`` semantics.

Several replicas run; one leads (its work queue runs and its API client may write), the others stand by
(their watches keep their caches warm; their client refuses every write).  Every ``retry_period`` each
replica:

- **observes** the Lease (the leader skips the read: it renews with the resourceVersion of its own last
  write, and reads only when that fails);
- **decides** (:func:`decide`, pure): create the Lease, take it over, renew it, wait, or stand down;
- **acts**: one write guarded by the resourceVersion it read, so of two candidates only one wins.

A Lease has expired when it has not changed for its ``leaseDurationSeconds`` as *this* replica saw it,
on this replica's own clock, as client-go does: the holder's ``renewTime`` was written by another node's
clock, and a skewed clock must never let a candidate take a live Lease.  The leader stands down at once
when it sees another holder, or when no renewal succeeded for ``renew_deadline`` (shorter than the lease
duration, so it has stopped before a standby may start).  On a graceful stop it releases the Lease (no
holder, a duration of 1 s, as client-go's ``ReleaseOnCancel``): a standby takes over at its next retry
instead of after the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pro_operator import metrics
from pro_operator.kube import Conflict, Kube, KubeError, NotFound

log = logging.getLogger("pro_operator.leader")

Obj = dict[str, Any]

LEASE_API_VERSION = "coordination.k8s.io/v1"
DEFAULT_LEASE_NAME = "pro-operator-leader"
#: client-go's JitterFactor: the renew deadline must leave room for a retry that comes late
JITTER = 1.2


@dataclass(frozen=True)
class Timing:
    """controller-runtime's defaults: a lease of 15 s, renewed every 2 s, given up after 10 s without a
    successful renewal."""

    lease_duration: float = 15.0
    """How long a standby waits, after the Lease last changed, before it takes the Lease over."""
    renew_deadline: float = 10.0
    """How long the leader keeps acting without a successful renewal before it stands down."""
    retry_period: float = 2.0
    """How often every replica tries to acquire or renew."""

    def __post_init__(self) -> None:
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise ValueError(
                f"lease duration ({self.lease_duration:g} s), renew deadline ({self.renew_deadline:g} s) "
                f"and retry period ({self.retry_period:g} s) must all be positive"
            )
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"the lease duration ({self.lease_duration:g} s) must be longer than the renew deadline "
                f"({self.renew_deadline:g} s): the leader must stop before a standby may start"
            )
        if self.renew_deadline <= JITTER * self.retry_period:
            raise ValueError(
                f"the renew deadline ({self.renew_deadline:g} s) must be longer than {JITTER:g} × the retry "
                f"period ({self.retry_period:g} s)"
            )

    @property
    def lease_seconds(self) -> int:
        """``leaseDurationSeconds`` as written (whole seconds, rounded up)."""
        return math.ceil(self.lease_duration)


# ----------------------------------------------------------------------------- the pure core
@dataclass(frozen=True)
class Record:
    """A Lease's spec as the election reads it (client-go's ``LeaderElectionRecord``)."""

    holder: str = ""
    """``holderIdentity``; empty: free (released)."""
    duration: int = 0
    """``leaseDurationSeconds``: how long the holder claims it, from its last renewal."""
    transitions: int = 0
    """``leaseTransitions``: how often the Lease changed hands."""
    acquired: str | None = None
    renewed: str | None = None


@dataclass(frozen=True)
class Lease:
    """The Lease as read (or as a write returned it)."""

    record: Record
    version: str
    """``metadata.resourceVersion``: the precondition of the next write."""
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Its metadata (labels and annotations someone set are kept by a write)."""

    @classmethod
    def from_k8s(cls, obj: Obj) -> Lease:
        spec = obj.get("spec") or {}
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        return cls(
            Record(
                holder=spec.get("holderIdentity") or "",
                duration=int(spec.get("leaseDurationSeconds") or 0),
                transitions=int(spec.get("leaseTransitions") or 0),
                acquired=spec.get("acquireTime"),
                renewed=spec.get("renewTime"),
            ),
            str(meta.get("resourceVersion") or ""),
            meta,
        )


@dataclass(frozen=True)
class Memory:
    """What a replica knows of the election between two rounds.  Times are its own monotonic clock's."""

    lease: Lease | None = None
    """The Lease as last observed or written; None: none seen (or there is none)."""
    observed_at: float = 0.0
    """When the Lease's record last changed, as this replica saw it."""
    leading: bool = False
    renewed_at: float = 0.0
    """When the write that last acquired or renewed the Lease was sent (leader only)."""


class Act(StrEnum):
    CREATE = "create"
    """No Lease: create it, holding it."""
    TAKE = "take"
    """Free, released, expired (or already naming this replica): write this replica's name in it."""
    RENEW = "renew"
    """Leading: write a new renewTime."""
    WAIT = "wait"
    """Another replica holds a live Lease."""
    STAND_DOWN = "stand-down"
    """Leading no more: another holder, no Lease, or no renewal for the renew deadline."""


def observe(memory: Memory, lease: Lease | None, now: float) -> Memory:
    """``memory`` after reading ``lease`` at ``now``: the observation time moves only when the record
    changed (its resourceVersion alone may change with a label)."""
    same = lease is not None and memory.lease is not None and lease.record == memory.lease.record
    return replace(memory, lease=lease, observed_at=memory.observed_at if same else now)


def decide(memory: Memory, me: str, timing: Timing, now: float) -> Act:
    """What replica ``me`` does next."""
    lease = memory.lease
    if memory.leading:
        if lease is None or lease.record.holder != me:
            return Act.STAND_DOWN
        if now - memory.renewed_at >= timing.renew_deadline:
            return Act.STAND_DOWN
        return Act.RENEW
    if lease is None:
        return Act.CREATE
    if lease.record.holder in ("", me) or now >= memory.observed_at + lease.record.duration:
        return Act.TAKE
    return Act.WAIT


def expires_in(memory: Memory, now: float) -> float | None:
    """Seconds until the observed Lease expires for a standby (None: no Lease or no holder)."""
    if memory.lease is None or not memory.lease.record.holder:
        return None
    return memory.observed_at + memory.lease.record.duration - now


def stamp(when: datetime) -> str:
    """A Lease's MicroTime."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claim(lease: Lease | None, me: str, timing: Timing, now: datetime, *, namespace: str, name: str) -> Obj:
    """The Lease that names ``me`` the holder, written over ``lease`` as read (None: a new one): a new
    holder sets ``acquireTime`` and counts a transition; the holder renewing keeps both."""
    old = lease.record if lease is not None else Record()
    taking = old.holder != me
    spec = {
        "holderIdentity": me,
        "leaseDurationSeconds": timing.lease_seconds,
        "acquireTime": stamp(now) if taking or old.acquired is None else old.acquired,
        "renewTime": stamp(now),
        "leaseTransitions": old.transitions + 1 if taking and lease is not None else old.transitions,
    }
    return _body(lease, spec, namespace=namespace, name=name)


def released(lease: Lease, now: datetime, *, namespace: str, name: str) -> Obj:
    """The Lease given up (client-go's ``ReleaseOnCancel``): no holder, a duration of 1 s."""
    spec = {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": stamp(now),
        "renewTime": stamp(now),
        "leaseTransitions": lease.record.transitions,
    }
    return _body(lease, spec, namespace=namespace, name=name)


def _body(lease: Lease | None, spec: Obj, *, namespace: str, name: str) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if lease is not None:  # a replacement: keep what else its metadata holds; the version guards it
        meta = {**lease.meta, **meta, "resourceVersion": lease.version}
    return {"apiVersion": LEASE_API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}


# ----------------------------------------------------------------------------- the I/O
class Elector:
    """Runs the election for replica ``identity`` on Lease ``namespace/name``: :meth:`run` in the event
    loop (the requests in a thread, each bounded by the renew deadline), :meth:`release` on a graceful
    stop."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        timing: Timing | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.timing = timing or Timing()
        self.clock, self.wall = clock, wall
        self.memory = Memory()
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self.memory.leading

    def describe(self) -> str:
        t = self.timing
        return (
            f"leader election on Lease {self.namespace}/{self.name} as {self.identity} (lease "
            f"{t.lease_duration:g} s, renew deadline {t.renew_deadline:g} s, retry {t.retry_period:g} s)"
        )

    # ------------------------------------------------------------- one round (blocking)
    def tick(self, memory: Memory) -> Memory:
        """One round: observe, decide, act; the new memory (a failed request changes nothing)."""
        timeout = self.timing.renew_deadline
        if memory.leading and memory.lease is not None:  # renew without reading; read when that fails
            sent = self.clock()
            try:
                return self._won(self.kube.replace_lease(self._claim(memory.lease), timeout=timeout), sent)
            except KubeError as err:
                log.info("renewing the lease failed, reading it: %s", err)
        try:
            lease = self.kube.get_lease(self.namespace, self.name, timeout=timeout)
        except KubeError as err:
            log.warning("cannot read the lease %s/%s: %s", self.namespace, self.name, err)
            return memory
        memory = observe(memory, None if lease is None else Lease.from_k8s(lease), self.clock())
        act = decide(memory, self.identity, self.timing, self.clock())
        if act in (Act.WAIT, Act.STAND_DOWN):
            return memory
        sent = self.clock()
        try:
            if act is Act.CREATE:
                return self._won(self.kube.create_lease(self._claim(None), timeout=timeout), sent)
            return self._won(self.kube.replace_lease(self._claim(memory.lease), timeout=timeout), sent)
        except Conflict:  # another replica wrote first: read again next round
            return memory
        except KubeError as err:
            log.warning("cannot %s the lease %s/%s: %s", act, self.namespace, self.name, err)
            return memory

    def _claim(self, lease: Lease | None) -> Obj:
        return claim(lease, self.identity, self.timing, self.wall(), namespace=self.namespace, name=self.name)

    def _won(self, written: Obj, sent: float) -> Memory:
        return Memory(Lease.from_k8s(written), observed_at=sent, leading=True, renewed_at=sent)

    # ------------------------------------------------------------- the loop
    async def run(self, on_lead: Callable[[], None], on_lose: Callable[[str], None]) -> None:
        """Acquire, then renew every retry period; ``on_lead()`` once this replica leads (it must not
        block: renewals wait for it), ``on_lose(why)`` when it stops leading (then this returns).  A
        round that outlives the renew deadline is not waited for."""
        metrics.LEADER.set(0)
        while True:
            started = self.clock()
            was_leading = self.memory.leading
            budget = self.memory.renewed_at + self.timing.renew_deadline - started if was_leading else None
            try:
                self.memory = await asyncio.wait_for(asyncio.to_thread(self.tick, self.memory), budget)
            except TimeoutError:
                self._lose(on_lose, f"no renewal succeeded for {self.timing.renew_deadline:g} s")
                return
            if was_leading:
                if decide(self.memory, self.identity, self.timing, self.clock()) is Act.STAND_DOWN:
                    lease = self.memory.lease
                    why = (
                        f"the lease is held by {lease.record.holder or 'nobody'} now"
                        if lease is not None and lease.record.holder != self.identity
                        else f"no renewal succeeded for {self.timing.renew_deadline:g} s"
                    )
                    self._lose(on_lose, why)
                    return
            elif self.memory.leading:
                metrics.LEADER.set(1)
                record = self.memory.lease.record if self.memory.lease is not None else Record()
                log.info(
                    "leading: acquired the lease %s/%s (transitions: %d)",
                    self.namespace, self.name, record.transitions,
                )  # fmt: skip
                on_lead()
            await asyncio.sleep(max(0.0, started + self.timing.retry_period - self.clock()))

    def _lose(self, on_lose: Callable[[str], None], why: str) -> None:
        self.memory = replace(self.memory, leading=False)
        metrics.LEADER.set(0)
        on_lose(why)

    def start(self, on_lead: Callable[[], None], on_lose: Callable[[str], None]) -> None:
        """:meth:`run` as a task of the running loop."""
        self._task = asyncio.create_task(self.run(on_lead, on_lose), name="leader election")

    async def stop(self) -> None:
        """End the loop (a round in flight finishes in its thread) and release the Lease if leading.
        The caller stops its own writes first: a standby may act as soon as the Lease is released."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.memory.leading:
            await asyncio.to_thread(self.release)

    def release(self) -> bool:
        """Give the Lease up (blocking); whether it was released.  A renewal that finished meanwhile
        changed its version: read again, and release it if it still names this replica."""
        lease = self.memory.lease
        self.memory = replace(self.memory, leading=False)
        metrics.LEADER.set(0)
        timeout = self.timing.renew_deadline
        for _ in range(2):
            if lease is None or lease.record.holder != self.identity:
                return False
            try:
                self.kube.replace_lease(
                    released(lease, self.wall(), namespace=self.namespace, name=self.name), timeout=timeout
                )
                log.info("released the lease %s/%s", self.namespace, self.name)
                return True
            except NotFound:
                return False
            except Conflict:
                try:
                    found = self.kube.get_lease(self.namespace, self.name, timeout=timeout)
                except KubeError as err:
                    log.warning("cannot release the lease: %s", err)
                    return False
                lease = None if found is None else Lease.from_k8s(found)
            except KubeError as err:
                log.warning("cannot release the lease: %s", err)
                return False
        return False
