"""The resource kinds of ``pro.alignment.dev/v1alpha1``: names, short names and their spec models.

One table for ``pro explain``, ``pro stage`` and (issue #7) the CRDs.  Models are imported on
first use, so listing kinds stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

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
        "RewardModelTraining",
        "rmt",
        "pro.spec.stages:RewardModelTraining",
        "Train one objective's reward model",
    ),
    Kind("AdapterTraining", "adt", "pro.spec.stages:AdapterTraining", "Train the prompt → weights adapter"),
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
