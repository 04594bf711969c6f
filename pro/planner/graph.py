"""The stage graph: which stages exist, what each needs, and what each one's work is.

Two digests, never confused:

- the **spec digest** of a stage (:func:`pro.spec.spec_digest`, ``StageNode.spec_digest``): its own spec's
  canonical JSON, how it runs (``execution``) left out;
- its **work digest** (:attr:`Graph.work_digests`): the spec digest folded with its kind and its inputs'
  work digests.  Equal work digests, equal work: the stage records it in what it commits
  (``manifest.json``'s ``workDigest``), pipelines carry it as the ``pro.alignment.dev/work-digest``
  annotation, and the planner compares it with what the store holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property


class GraphError(ValueError):
    """A graph that cannot be planned: unknown dependency, duplicate name or cycle."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after a failed attempt, with exponential backoff."""

    limit: int = 2
    """Retries after the first attempt (0: fail at the first failure)."""
    backoff_seconds: float = 30.0
    """Wait before the first retry."""
    factor: float = 2.0
    """Each further retry waits this many times longer."""
    max_backoff_seconds: float = 600.0
    """Upper bound of one wait."""

    def delay(self, failures: int) -> timedelta:
        """The wait after the ``failures``-th failed attempt (1-based)."""
        seconds = self.backoff_seconds * self.factor ** max(failures - 1, 0)
        return timedelta(seconds=min(seconds, self.max_backoff_seconds))


@dataclass(frozen=True)
class StageNode:
    """One stage: its name, kind, upstream stages and the digest of its own spec."""

    name: str
    kind: str
    needs: tuple[str, ...] = ()
    spec_digest: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class Graph:
    """A DAG of stages; construction checks names, dependencies and cycles."""

    stages: tuple[StageNode, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise GraphError(f"duplicate stage names: {', '.join(dupes)}")
        known = set(names)
        for stage in self.stages:
            missing = [n for n in stage.needs if n not in known]
            if missing:
                raise GraphError(f"stage {stage.name!r} needs unknown stage(s): {', '.join(missing)}")
        _ = self.order  # raises on a cycle

    @cached_property
    def by_name(self) -> dict[str, StageNode]:
        return {s.name: s for s in self.stages}

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Stage names, every stage after all it needs (stable: declaration order breaks ties)."""
        done: list[str] = []
        placed: set[str] = set()
        remaining = list(self.stages)
        while remaining:
            ready = [s for s in remaining if set(s.needs) <= placed]
            if not ready:
                cycle = ", ".join(s.name for s in remaining)
                raise GraphError(f"the stages form a cycle: {cycle}")
            for s in ready:
                done.append(s.name)
                placed.add(s.name)
            remaining = [s for s in remaining if s.name not in placed]
        return tuple(done)

    @cached_property
    def work_digests(self) -> dict[str, str]:
        """Each stage's work digest: its kind and spec digest folded with its inputs' work digests (a change
        upstream re-runs everything downstream)."""
        out: dict[str, str] = {}
        for name in self.order:
            node = self.by_name[name]
            h = hashlib.sha256(f"{node.kind}\0{node.spec_digest}".encode())
            for need in sorted(node.needs):
                h.update(f"\0{need}={out[need]}".encode())
            out[name] = h.hexdigest()
        return out
