"""What every reconciler shares: the API client, the cache, the queue and per-process memory."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime

from pro_operator.cache import ObjectCache
from pro_operator.kube import Kube

#: a stage resource, pipeline or schedule: (plural, namespace, name)
Key = tuple[str, str, str]


@dataclass
class Context:
    kube: Kube
    cache: ObjectCache
    enqueue: Callable[[Hashable], None]
    """Reconcile a key soon (thread-safe)."""
    committed: Callable[[str, str], bool] = field(default=lambda uri, digest: False)
    """Whether the artifact at ``uri`` is committed for ``digest`` (the store; replaced in tests)."""
    store_seen: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Positive store answers, remembered: a committed artifact stays committed."""

    def is_committed(self, uri: str, digest: str) -> bool:
        if self.store_seen.get((uri, digest)):
            return True
        found = self.committed(uri, digest)
        if found:
            self.store_seen[(uri, digest)] = True
        return found


def store_check(uri: str, digest: str) -> bool:
    """The artifact store's answer (credentials from the standard AWS chain of the operator's pod)."""
    from pro.store import read_manifest

    manifest = read_manifest(uri)
    return manifest is not None and manifest.spec_digest == digest


def earliest(*times: datetime | None) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None
