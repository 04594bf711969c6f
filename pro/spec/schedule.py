"""The schedule resource: ``AlignmentSchedule`` (short name ``als``) — to AlignmentPipeline what a
CronJob is to a Job."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pro.spec.base import Resource, SpecModel
from pro.spec.cron import parse_cron, zone_info
from pro.spec.k8s import Annotations, Labels
from pro.spec.pipeline import AlignmentPipelineSpec


class TemplateMeta(SpecModel):
    """Labels and annotations copied to every pipeline the schedule creates."""

    labels: Labels = Field(default_factory=dict)
    """Labels of the created pipelines."""
    annotations: Annotations = Field(default_factory=dict)
    """Annotations of the created pipelines."""


class PipelineTemplate(SpecModel):
    """The pipeline created at each firing (named ``<schedule>-<unix minutes>``, ``runId`` set per firing)."""

    metadata: TemplateMeta = Field(default_factory=TemplateMeta)
    """Labels and annotations of the created pipelines."""
    spec: AlignmentPipelineSpec
    """The pipeline spec."""


class AlignmentScheduleSpec(SpecModel):
    """Create an AlignmentPipeline on a cron schedule."""

    schedule: str = Field(min_length=1)
    """Cron expression with five fields (minute hour day-of-month month day-of-week), e.g.
    ``0 3 * * 1``; ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` also work."""
    time_zone: str | None = None
    """IANA time zone of the schedule (e.g. ``Europe/Berlin``); default: UTC."""
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"
    """When a firing finds an earlier pipeline still running: ``Allow`` both, ``Forbid`` (skip this
    firing) or ``Replace`` (delete the running one).  Default ``Forbid``: alignment runs are expensive."""
    suspend: bool = False
    """Create no pipeline while true (running ones go on)."""
    starting_deadline_seconds: int | None = Field(default=None, ge=0)
    """A firing missed by more than this (operator down, suspended) is skipped instead of run late."""
    successful_pipelines_history_limit: int = Field(default=3, ge=0)
    """Succeeded pipelines to keep; older ones are deleted (with their stages and jobs)."""
    failed_pipelines_history_limit: int = Field(default=1, ge=0)
    """Failed pipelines to keep."""
    pipeline_template: PipelineTemplate
    """The pipeline to create."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        parse_cron(value)
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_info(value)
        return value


class AlignmentSchedule(Resource):
    """A schedule of alignment pipelines (short name ``als``)."""

    kind: Literal["AlignmentSchedule"] = "AlignmentSchedule"
    """Always ``AlignmentSchedule``."""
    spec: AlignmentScheduleSpec
    """When to run which pipeline."""


__all__ = ["AlignmentSchedule", "AlignmentScheduleSpec", "PipelineTemplate", "TemplateMeta"]
