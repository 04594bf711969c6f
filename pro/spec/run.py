"""What a run pins when it starts (``<run root>/snapshot.json``, written once): its data, its scheduled time
and its lineage's promoted policy.  A resumed run, a restarted operator and every stage then see the same."""

from __future__ import annotations

from pydantic import Field

from pro.spec.base import SpecModel
from pro.spec.data import DataSnapshot


class PromotedPin(SpecModel):
    """The lineage's ``promoted.json`` as the run found it."""

    etag: str
    """Its version: the gate moves the pointer only if it is still this one."""
    policy: str
    """The promoted policy artifact."""
    run: str
    """The run that promoted it."""


class RunSnapshot(SpecModel):
    """Everything a run fixes when it starts."""

    scheduled_time: str
    """The firing's scheduled time (RFC 3339) the placeholders were filled with."""
    data: DataSnapshot = Field(default_factory=dict)
    """Every data reference of the pipeline → its objects."""
    promoted: PromotedPin | None = None
    """The lineage's promoted policy when the run started (None: none yet, or no promotion gate)."""


__all__ = ["PromotedPin", "RunSnapshot"]
