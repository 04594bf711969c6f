"""The operator's view of the cluster: the latest body of every watched object, fed by the watch
streams, with label indexes (an informer cache).  Reconcilers read here, so a reconcile costs no API
reads; the API is only written to.

Bodies are kept as compressed compact JSON, not as Python dicts: a dict of a few kilobytes of JSON
takes ten times that in memory, and a reader needs its own copy anyway (decoding a body is several
times cheaper than deep-copying the dict).  Beside each body the cache keeps what is asked of it
without a copy: its resourceVersion, indexed labels and ``status.phase`` (indexed too), and for a job
whether it holds one of its namespace's running-job slots and whose it is.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import defaultdict
from typing import Any

from pro.spec.conventions import INDEXED_LABELS
from pro_operator.jobs import backend_of_plural, holds_slot
from pro_operator.kube import controller

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)

_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


class _Entry:
    """One cached object: its body as zlib-compressed JSON, and the few fields read without decoding."""

    __slots__ = ("holder", "labels", "packed", "phase", "rv")

    def __init__(self, plural: str, body: Obj) -> None:
        meta = body["metadata"]
        self.rv = _rv(body)
        labels = meta.get("labels") or {}
        self.labels = tuple((k, labels[k]) for k in INDEXED_LABELS if k in labels)
        status = body.get("status")
        self.phase: str | None = status.get("phase") if isinstance(status, dict) else None
        backend = backend_of_plural(plural)
        self.holder: tuple[str, str] | None = None
        """A job holding a running-job slot: its controller's (kind, name) (("", "") when it has none)."""
        if backend is not None and holds_slot(backend, body):
            owner = controller(body) or {}
            self.holder = (owner.get("kind", ""), owner.get("name", ""))
        self.packed = zlib.compress(json.dumps(body, **_COMPACT).encode(), 1)  # type: ignore[arg-type]

    def body(self) -> Obj:
        out: Obj = json.loads(zlib.decompress(self.packed))
        return out


class ObjectCache:
    """Thread-safe: watch handlers write from the event loop, reconcilers read from worker threads.
    Every read returns the caller's own copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Key, _Entry] = {}
        self._index: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
        self._phases: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        """(plural, namespace, phase) → names."""
        self._running: dict[str, dict[tuple[str, str], tuple[str, str]]] = defaultdict(dict)
        """namespace → jobs holding a slot: (plural, name) → their controller's (kind, name)."""

    def put(self, plural: str, body: Obj) -> bool:
        """Keep ``body`` unless the cache holds this or a newer resourceVersion of it (the watch's echo
        of a write already cached, or an event arriving late); whether it was news."""
        meta = body["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        rv = _rv(body)
        with self._lock:
            old = self._objects.get(key)
        if old is not None and rv > 0 and old.rv >= rv:
            return False
        entry = _Entry(plural, trim(plural, body))  # encoded outside the lock
        with self._lock:
            old = self._objects.get(key)
            if old is not None and entry.rv > 0 and old.rv >= entry.rv:
                return False
            self._unindex(key, old)
            self._objects[key] = entry
            for label, value in entry.labels:
                self._index[(plural, key[1], label, value)].add(key[2])
            if entry.phase is not None:
                self._phases[(plural, key[1], entry.phase)].add(key[2])
            if entry.holder is not None:
                self._running[key[1]][(plural, key[2])] = entry.holder
        return True

    def remove(self, plural: str, namespace: str, name: str) -> None:
        key = (plural, namespace, name)
        with self._lock:
            self._unindex(key, self._objects.pop(key, None))

    def _unindex(self, key: Key, old: _Entry | None) -> None:
        if old is None:
            return
        plural, namespace, name = key
        for label, value in old.labels:
            _discard(self._index, (plural, namespace, label, value), name)
        if old.phase is not None:
            _discard(self._phases, (plural, namespace, old.phase), name)
        if old.holder is not None:
            running = self._running[namespace]
            running.pop((plural, name), None)
            if not running:
                del self._running[namespace]

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        with self._lock:
            entry = self._objects.get((plural, namespace, name))
        return entry.body() if entry is not None else None

    def phase(self, plural: str, namespace: str, name: str) -> str | None:
        """The object's ``status.phase`` (None: no such object, or no phase yet), without a copy."""
        with self._lock:
            entry = self._objects.get((plural, namespace, name))
        return entry.phase if entry is not None else None

    def by_label(self, plural: str, namespace: str, label: str, value: str) -> list[Obj]:
        with self._lock:
            names = sorted(self._index.get((plural, namespace, label, value), ()))
            entries = [self._objects[(plural, namespace, n)] for n in names]
        return [e.body() for e in entries]

    def in_phase(self, plural: str, namespace: str, phase: str) -> list[str]:
        """The names of the objects of ``plural`` in ``namespace`` whose ``status.phase`` is ``phase``."""
        with self._lock:
            return sorted(self._phases.get((plural, namespace, phase), ()))

    def running_jobs(self, namespace: str) -> dict[tuple[str, str], tuple[str, str]]:
        """The jobs of ``namespace`` that hold a running-job slot (:func:`~pro_operator.jobs.holds_slot`):
        (plural, name) → their controller's (kind, name)."""
        with self._lock:
            return dict(self._running.get(namespace, {}))

    def keys(self, plural: str) -> list[Key]:
        with self._lock:
            return [k for k in self._objects if k[0] == plural]

    def __len__(self) -> int:
        return len(self._objects)


def _discard(index: dict[Any, set[str]], key: Any, name: str) -> None:
    names = index.get(key)
    if names is not None:
        names.discard(name)
        if not names:
            del index[key]


def trim(plural: str, body: Obj) -> Obj:
    """What the controllers read of an object: no ``managedFields``, and of a job no pod templates (the
    largest part of it, its backend's ``bulky`` keys; the controllers read only its metadata, whether it
    is suspended, and its status)."""
    meta = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
    out = {**body, "metadata": meta}
    backend = backend_of_plural(plural)
    if backend is not None and isinstance(body.get("spec"), dict):
        out["spec"] = {k: v for k, v in body["spec"].items() if k not in backend.bulky}
    return out


def _rv(body: Obj) -> int:
    try:
        return int(body["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0
