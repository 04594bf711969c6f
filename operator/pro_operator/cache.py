"""The operator's view of the cluster: the latest body of every watched object, fed by the watch
streams, with label indexes (an informer cache).  Reconcilers read here, so a reconcile costs no API
reads; the API is only written to."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)

#: labels the reconcilers look objects up by
INDEXED_LABELS = (
    "pro.alignment.dev/pipeline",
    "pro.alignment.dev/stage-resource",
    "pro.alignment.dev/schedule",
)


class ObjectCache:
    """Thread-safe: watch handlers write from the event loop, reconcilers read from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Key, Obj] = {}
        self._index: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)

    def put(self, plural: str, body: Obj) -> None:
        body = trim(plural, body)
        meta = body["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        with self._lock:
            old = self._objects.get(key)
            if old is not None and _rv(old) > _rv(body) > 0:
                return  # an older event arriving late
            self._unindex(key, old)
            self._objects[key] = body
            for label in INDEXED_LABELS:
                value = (meta.get("labels") or {}).get(label)
                if value is not None:
                    self._index[(plural, key[1], label, value)].add(key[2])

    def remove(self, plural: str, namespace: str, name: str) -> None:
        key = (plural, namespace, name)
        with self._lock:
            self._unindex(key, self._objects.pop(key, None))

    def _unindex(self, key: Key, old: Obj | None) -> None:
        if old is None:
            return
        for label in INDEXED_LABELS:
            value = (old["metadata"].get("labels") or {}).get(label)
            if value is not None:
                self._index[(key[0], key[1], label, value)].discard(key[2])

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        with self._lock:
            body = self._objects.get((plural, namespace, name))
            return copy.deepcopy(body) if body is not None else None

    def by_label(self, plural: str, namespace: str, label: str, value: str) -> list[Obj]:
        with self._lock:
            names = sorted(self._index.get((plural, namespace, label, value), ()))
            return [copy.deepcopy(self._objects[(plural, namespace, n)]) for n in names]

    def keys(self, plural: str) -> list[Key]:
        with self._lock:
            return [k for k in self._objects if k[0] == plural]


def trim(plural: str, body: Obj) -> Obj:
    """What the controllers read of an object: no ``managedFields``, and of a PyTorchJob no pod
    templates (the largest part of it; the controllers read only its metadata, run policy and status)."""
    meta = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
    out = {**body, "metadata": meta}
    if plural == "pytorchjobs" and isinstance(body.get("spec"), dict):
        out["spec"] = {k: v for k, v in body["spec"].items() if k != "pytorchReplicaSpecs"}
    return out


def _rv(body: Obj) -> int:
    try:
        return int(body["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0
