"""Reporting a rule broken below the model that checks it: each problem at its own field path.

A model validator that finds, say, an unknown objective in ``weights.fixed`` raises
``problems_at("WeightChoice", [(("fixed", "hepfulness"), "unknown objective ...")])``; pydantic prefixes the
path of the model, so the loader reports ``spec.alignment.weights.fixed.hepfulness`` with its line.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

#: a path below the model: YAML (camelCase) field names, list indices and map keys
SubPath = tuple[str | int, ...]


def problems_at(title: str, problems: Sequence[tuple[SubPath, str]]) -> ValidationError:
    """A validation error with one ``value_error`` per ``(path, message)`` (raise it from a validator)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("value_error", "{message}", {"message": message}), loc=loc, input=None
        )
        for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details)


__all__ = ["SubPath", "problems_at"]
