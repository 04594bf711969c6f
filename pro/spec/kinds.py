"""The resource kinds of ``pro.alignment.dev/v1alpha1``: names, short names and their spec models.

One table for ``pro explain``, ``pro stage`` and (issue #7) the CRDs.  Models are imported on
first use, so listing kinds stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from pro.errors import UserError
from pro.spec.base import Resource


@dataclass(frozen=True)
class Kind:
    """A resource kind and where its model lives (``module:Class``)."""

    name: str
    short: str
    model_path: str
    summary: str

    @property
    def plural(self) -> str:
        return self.name.lower() + "s"

    def model(self) -> type[Resource]:
        module, _, attr = self.model_path.partition(":")
        model: type[Resource] = getattr(importlib.import_module(module), attr)
        return model


KINDS: tuple[Kind, ...] = (
    Kind(
        "AlignmentPipeline",
        "alp",
        "pro.spec.pipeline:AlignmentPipeline",
        "PRO end to end: reward models → adapter → alignment → evaluation",
    ),
    Kind(
        "RewardModelTraining",
        "rmt",
        "pro.spec.stages:RewardModelTraining",
        "Train one objective's reward model",
    ),
    Kind("AdapterTraining", "adt", "pro.spec.stages:AdapterTraining", "Train the prompt → weights adapter"),
    Kind(
        "PolicyAlignment",
        "pal",
        "pro.spec.align:PolicyAlignment",
        "Align a policy with per-prompt weights (PRO-MORLHF or PRO-WIC)",
    ),
    Kind(
        "PolicyEvaluation",
        "pev",
        "pro.spec.evaluation:PolicyEvaluation",
        "Compare two policies on held-out prompts",
    ),
    Kind(
        "AlignmentSchedule",
        "als",
        "pro.spec.schedule:AlignmentSchedule",
        "Create alignment pipelines on a cron schedule (like a CronJob)",
    ),
)


class UnknownKind(UserError):
    """A resource name that matches no kind."""


def resolve(word: str) -> Kind:
    """A kind from its name, plural, singular or short name (case-insensitive), as kubectl accepts."""
    w = word.lower()
    for kind in KINDS:
        if w in (kind.name.lower(), kind.plural, kind.short):
            return kind
    known = ", ".join(f"{k.name} ({k.short})" for k in KINDS)
    raise UnknownKind(f'the server doesn\'t have a resource type "{word}"; known: {known}')


def load_resource(path: str | Path) -> Resource:
    """Read a resource file of any kind (``kind`` decides the model); every problem is reported."""
    from pro.spec.loader import SpecError, SpecProblem, parse, read_document

    doc = read_document(path)
    kind_name = doc.data.get("kind") if isinstance(doc.data, dict) else None
    known = ", ".join(k.name for k in KINDS)
    if not kind_name:
        raise SpecError(doc.source, [SpecProblem("kind", f"required field is missing (one of: {known})", 1)])
    match = [k for k in KINDS if k.name == kind_name]
    if not match:
        line = doc.lines.get(("kind",))
        raise SpecError(
            doc.source, [SpecProblem("kind", f"unknown kind {kind_name!r} (one of: {known})", line)]
        )
    return parse(match[0].model(), doc)
