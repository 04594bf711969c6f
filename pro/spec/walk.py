"""One walk over a spec model's set strings, for the finders that look for marked fields (data references,
local paths): each string with the field that holds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class StringField:
    """A string set in a model, where it sits and the field that holds it."""

    path: str
    """Its field path as the user writes it (aliases; ``[i]`` for list items, ``.key`` for dict values)."""
    value: str
    info: FieldInfo
    """The field that holds it (for a dict's value, the dict's field)."""
    keyed: bool
    """A dict's value rather than the field itself."""


def string_fields(
    model: BaseModel, path: str = "", *, skip: Callable[[BaseModel], bool] = lambda _: False
) -> Iterator[StringField]:
    """Every string field set in ``model`` and in the models it holds (in fields, lists and dict values),
    with the dict values that are strings; a model for which ``skip`` is true is not entered."""
    if skip(model):
        return
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        where = f"{path}.{info.alias or name}" if path else (info.alias or name)
        if isinstance(value, str):
            yield StringField(where, value, info, keyed=False)
        elif isinstance(value, BaseModel):
            yield from string_fields(value, where, skip=skip)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from string_fields(item, f"{where}[{i}]", skip=skip)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from string_fields(item, f"{where}.{key}", skip=skip)
                elif isinstance(item, str):
                    yield StringField(f"{where}.{key}", item, info, keyed=True)


__all__ = ["StringField", "string_fields"]
