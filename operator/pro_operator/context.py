"""What every reconciler shares: the API client, the cache, the queue and per-process memory."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pro.spec.guardrails import Guardrails
from pro_operator.backends import JobSupport, Runtimes
from pro_operator.cache import ObjectCache
from pro_operator.events import EventRecorder
from pro_operator.kube import Kube

log = logging.getLogger("pro_operator.context")
T = TypeVar("T")

#: a stage resource, pipeline or schedule: (plural, namespace, name)
Key = tuple[str, str, str]


class Memo:
    """The last ``size`` values computed per key (least recently used ones are forgotten; thread-safe).
    Parsing a spec and composing a pipeline take about a millisecond; kept for every object they would
    hold ~50 kB per pipeline, so only the working set is kept."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value remembered for ``key``, else ``compute()`` (remembered unless it raises)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                found: T = self._values[key]
                return found
        value = compute()  # outside the lock: another thread may compute the same; both are equal
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class Context:
    kube: Kube
    cache: ObjectCache
    enqueue: Callable[[Hashable], None]
    """Reconcile a key soon (thread-safe)."""
    seen: Callable[[str, dict[str, Any]], None] = field(default=lambda plural, obj: None)
    """What the API returned for a write (plural, object): into the cache at once, and the keys it
    concerns reconciled without waiting for the watch to bring it back (a write-through cache)."""
    committed: Callable[[str, str], bool] = field(default=lambda uri, digest: False)
    """Whether the artifact at ``uri`` is committed for ``digest`` (the store; replaced in tests)."""
    store_seen: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Positive store answers, remembered: a committed artifact stays committed."""
    snapshots: dict[str, Any] = field(default_factory=dict)
    """Each pipeline's run snapshot by uid (what its run pinned: written once, never changes)."""
    events: EventRecorder | None = None
    """Where Events are recorded (posted by a background thread, after the reconciles); None: inline."""
    jobs: JobSupport = field(default_factory=JobSupport)
    """The job kinds the cluster serves and the operator's defaults (found at start)."""
    runtimes: Runtimes = field(default_factory=Runtimes)
    """Training runtimes as last listed (checked before a TrainJob is created)."""
    broken: dict[str, str] = field(default_factory=dict)
    """Job kinds whose CRD dropped fields of a job created here (an older Kubeflow), with why: no further
    job of theirs is created."""
    memo: Memo = field(default_factory=Memo)
    """Parsed specs and compositions by (uid, generation, labels and annotations): a status change does
    not re-validate a spec."""
    guardrails: Guardrails = field(default_factory=Guardrails)
    """What the platform allows pro resources to ask (``--guardrails``), and the pods' hardening."""
    _slot_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _slot_locks_lock: threading.Lock = field(default_factory=threading.Lock)

    def slot_lock(self, namespace: str) -> threading.Lock:
        """Held while a stage of ``namespace`` counts the running jobs and creates its own, so that
        concurrent reconciles never start more than the namespace's limit."""
        with self._slot_locks_lock:
            return self._slot_locks.setdefault(namespace, threading.Lock())

    def is_committed(self, uri: str, digest: str) -> bool:
        if self.store_seen.get((uri, digest)):
            return True
        found = self.committed(uri, digest)
        if found:
            self.store_seen[(uri, digest)] = True
        return found


def store_check(uri: str, digest: str) -> bool:
    """The artifact store's answer (credentials from the standard AWS chain of the operator's pod).

    A transient store failure is raised (the work queue tries again, backing off); a permanent one — e.g.
    a ``manifest.json`` over the size the operator reads, or a bucket it may not read — counts as "not
    committed": the stage runs, and its own commit says what is wrong."""
    from pro.store import StoreError, read_manifest

    try:
        manifest = read_manifest(uri)
    except StoreError as err:
        if err.transient:
            raise
        log.warning("%s: %s", uri, err)
        return False
    return manifest is not None and manifest.work_digest == digest


def earliest(*times: datetime | None) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None
