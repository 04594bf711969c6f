"""The kind table: every resource kind of ``pro.alignment.dev/v1alpha1`` — its names, its spec model and,
for a stage kind, its ``pro stage`` verb and entrypoint.

The one place a kind is declared.  ``pro explain``, ``pro stage``, ``pro validate``, the job renderer, the
local runner, the CRD generator, the operator's watches and controllers and its RBAC rules all read it
through the functions below (at call time, so a kind registered later — a test's throw-away kind — reaches
every one of them).  Models and entrypoints are imported on first use, so listing kinds stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pro.errors import UserError
from pro.spec.base import Resource

if TYPE_CHECKING:
    from pro.spec.loader import Document


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Kind:
    """A resource kind: names as kubectl knows them, where its model lives (``module:Class``) and, for a
    stage kind, how a stage of it runs."""

    name: str
    """``kind`` in YAML, e.g. ``RewardModelTraining``."""
    short: str
    """The short name (``kubectl get rmt``)."""
    model_path: str
    """``module:Class`` of the resource model."""
    summary: str
    """One line for ``pro explain`` and the CRD's description."""
    verb: str | None = None
    """``pro stage <verb>`` for a stage kind; None for the others."""
    entrypoint: str | None = None
    """``module:function`` a stage runs: ``run(resource) -> metrics``; None for the others."""
    libraries: tuple[str, ...] = ()
    """The modules a stage's start-up spends its time importing (torch, transformers, trl, …).  Once the
    stage's spec and data are checked, ``pro stage`` imports them before the entrypoint with the garbage
    collector paused, then frozen out of its scans (:func:`pro.stages.runtime.import_libraries`); ``pro
    run``'s warm interpreter imports every stage kind's once.  Only a matter of speed: a module left out is
    imported by the stage where it needs it.  Not ``deepspeed``: importing it writes an advisory into the
    stage's log (a warm start's would lack it)."""

    @property
    def plural(self) -> str:
        return self.name.lower() + "s"

    @property
    def is_stage(self) -> bool:
        """A stage kind runs as jobs (one per attempt) through ``pro stage <verb>``."""
        return self.verb is not None

    def model(self) -> type[Resource]:
        model: type[Resource] = _load(self.model_path)
        return model

    def run(self) -> Callable[[Any], dict[str, Any]]:
        """The stage's entrypoint function."""
        if self.entrypoint is None:
            raise TypeError(f"{self.name} is not a stage kind")
        function: Callable[[Any], dict[str, Any]] = _load(self.entrypoint)
        return function


#: what every training stage's start-up imports (its kind adds its trainer's)
TRAINING_LIBRARIES = ("torch", "transformers", "datasets", "peft")

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
        verb="reward",
        entrypoint="pro.stages.reward:run",
        libraries=(*TRAINING_LIBRARIES, "trl", "trl.trainer.reward_trainer"),
    ),
    Kind(
        "AdapterTraining",
        "adt",
        "pro.spec.stages:AdapterTraining",
        "Train the prompt → weights adapter",
        verb="adapter",
        entrypoint="pro.stages.adapter:run",
        libraries=(*TRAINING_LIBRARIES, "transformers.trainer"),
    ),
    Kind(
        "PolicyAlignment",
        "pal",
        "pro.spec.align:PolicyAlignment",
        "Align a policy with per-prompt weights (PRO-MORLHF or PRO-WIC)",
        verb="align",
        entrypoint="pro.stages.align:run",
        libraries=(*TRAINING_LIBRARIES, "trl", "trl.trainer.sft_trainer", "pro.align.policy"),
    ),
    Kind(
        "PolicyEvaluation",
        "pev",
        "pro.spec.evaluation:PolicyEvaluation",
        "Compare two policies on held-out prompts",
        verb="eval",
        entrypoint="pro.stages.evaluate:run",
        libraries=("torch", "transformers", "matplotlib.pyplot", "pro.align.policy"),
    ),
    Kind(
        "AlignmentSchedule",
        "als",
        "pro.spec.schedule:AlignmentSchedule",
        "Create alignment pipelines on a cron schedule (like a CronJob)",
    ),
)
"""Every kind, in the order ``pro explain`` lists them (read through the functions below)."""

PIPELINE_KIND = "AlignmentPipeline"
SCHEDULE_KIND = "AlignmentSchedule"


def all_kinds() -> tuple[Kind, ...]:
    return KINDS


def stage_kinds() -> tuple[Kind, ...]:
    """The kinds that run as jobs, in table order."""
    return tuple(k for k in KINDS if k.is_stage)


def stage_plurals() -> frozenset[str]:
    """The plurals of the stage kinds (their resources' collection names)."""
    return frozenset(k.plural for k in stage_kinds())


def kind_named(name: str) -> Kind:
    """The kind whose ``kind`` is ``name`` (KeyError when none)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def kind_of_plural(plural: str) -> Kind | None:
    return next((k for k in KINDS if k.plural == plural), None)


def stage_kind_of_verb(verb: str) -> Kind:
    """The stage kind ``pro stage <verb>`` runs; ``verb`` may also be its short name (KeyError: none)."""
    for kind in stage_kinds():
        if verb in (kind.verb, kind.short):
            return kind
    raise KeyError(verb)


def stage_verb(kind_name: str) -> str:
    """``pro stage <verb>`` of a stage kind."""
    verb = kind_named(kind_name).verb
    if verb is None:
        raise KeyError(f"{kind_name} is not a stage kind")
    return verb


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
    """Read a file holding one resource of any kind (``kind`` decides the model); every problem is
    reported."""
    from pro.spec.loader import read_document

    return resource_of(read_document(path))


def file_dir(path: str | Path) -> str:
    """The absolute directory of a resource file: what its relative paths are relative to."""
    return str(Path(path).absolute().parent)


def load_local(path: str | Path) -> Resource:
    """Read a resource file as the commands of this machine use it (``pro run``, ``pro validate``, …): its
    relative paths resolved against the file's directory (:mod:`pro.spec.paths`)."""
    from pro.spec.paths import resolved

    return resolved(load_resource(path), file_dir(path))


def resource_of(doc: Document) -> Resource:
    """The typed resource a parsed document holds: ``apiVersion`` and ``kind`` required (as kubectl
    requires them), ``kind`` decides the model."""
    from pro.spec.conventions import GROUP_VERSION
    from pro.spec.loader import SpecError, SpecProblem, describe, parse

    known = ", ".join(k.name for k in KINDS)
    if not isinstance(doc.data, dict):
        shape = f"expected a resource (a mapping with apiVersion, kind, metadata and spec), got {describe(doc.data)}"
        raise SpecError(doc.source, [SpecProblem("", shape, doc.lines.get(()))])
    problems = []
    top = doc.lines.get(())
    if "apiVersion" not in doc.data:
        problems.append(SpecProblem("apiVersion", f"required field is missing ({GROUP_VERSION})", top))
    kind_name = doc.data.get("kind")
    if not kind_name:
        problems.append(SpecProblem("kind", f"required field is missing (one of: {known})", top))
        raise SpecError(doc.source, problems)
    try:
        kind = kind_named(kind_name) if isinstance(kind_name, str) else None
    except KeyError:
        kind = None
    if kind is None:
        line = doc.lines.get(("kind",))
        problems.append(SpecProblem("kind", f"unknown kind {describe(kind_name)} (one of: {known})", line))
        raise SpecError(doc.source, problems)
    try:
        resource = parse(kind.model(), doc)
    except SpecError as err:
        raise SpecError(doc.source, problems + err.problems) from None
    if problems:
        raise SpecError(doc.source, problems)
    return resource
