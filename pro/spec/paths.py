"""Local paths in a resource: which fields hold one, and resolving the relative ones against a directory.

A relative path written in a resource **file** is relative to that file's directory, as kustomize reads the
files a kustomization names: ``pro run -f examples/toy/pipeline.yaml`` from the repository root and
``pro run -f pipeline.yaml`` from ``examples/toy/`` read and write the same files.  The command line's own
paths (``--out``, ``--store``, ``--set``, ``--prompts``, …) stay relative to the current directory, as a
shell's do.  On a cluster a resource is an object, not a file: the operator resolves nothing, and a relative
path there is the stage pod's (its working directory), as ``pro render`` notes.

A field holding a local path carries a :class:`LocalPath` marker in its type: data references
(:data:`pro.spec.data.DataRef`), artifact and store URIs and toy-world directories (:data:`PathRef`), and a
model's or tokenizer's ``name`` (:data:`ModelName`: a hub id unless it starts with ``./``, ``../`` or ``/``).
``s3://``, ``file://`` and absolute paths are left as they are, and so is ``~/…``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel

from pro.spec.walk import string_fields

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LocalPath:
    """Marks a string field (or a dict's values) as a local path when it is not a URI."""

    explicit_only: bool = False
    """Only ``./x``, ``../x`` are relative paths; a bare name is something else (a hub id)."""
    keywords: tuple[str, ...] = ()
    """Values that are words, not paths (e.g. ``lastPromoted``)."""

    def relative(self, value: str) -> bool:
        """Whether ``value`` is a relative local path (one to resolve)."""
        if not value or "://" in value or value.startswith(("/", "~")) or value in self.keywords:
            return False
        if self.explicit_only:
            return value in (".", "..") or value.startswith(("./", "../"))
        return True


LOCAL_PATH = LocalPath()
PathRef = Annotated[str, LOCAL_PATH]
"""An artifact or store URI, or a directory: ``s3://…``, ``file:///…`` or a path (relative: to the file)."""
ModelName = Annotated[str, LocalPath(explicit_only=True)]
"""A Hugging Face hub id, or a local directory written as a path (``./…``, ``../…`` or absolute)."""


def resolve_path(path: str, base: str) -> str:
    """``path`` joined to the absolute directory ``base``, normalised; a trailing ``/`` (a prefix) is kept."""
    joined = posixpath.normpath(posixpath.join(base, path))
    return joined + "/" if path.endswith("/") and not joined.endswith("/") else joined


def _marker(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> LocalPath | None:
    """The :class:`LocalPath` marker of a field's type (through Optional, unions and a dict's values)."""
    for m in metadata:
        if isinstance(m, LocalPath):
            return m
    for arg in getattr(annotation, "__args__", ()):
        found = _marker(arg, getattr(arg, "__metadata__", ()))
        if found is not None:
            return found
    return None


def local_paths(model: BaseModel, path: str = "") -> Iterator[tuple[str, str, LocalPath]]:
    """``(field path, value, marker)`` of every local-path field set in ``model``, recursively (a dict's
    string values each with its key); ``path``: the model's own (a resource's is empty)."""
    for field in string_fields(model, path):
        marker = _marker(field.info.annotation, field.info.metadata)
        if marker is not None:
            yield field.path, field.value, marker


def relative_paths(model: BaseModel, path: str = "") -> list[tuple[str, str]]:
    """``(field path, value)`` of every relative local path in ``model``."""
    return [(where, value) for where, value, marker in local_paths(model, path) if marker.relative(value)]


def resolved(model: M, base: str) -> M:
    """``model`` with every relative local path joined to the absolute directory ``base`` (the directory of
    the file it was read from); everything else unchanged."""
    updates: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        marker = _marker(info.annotation, info.metadata)
        if isinstance(value, list):
            new: Any = [_resolved_value(item, marker, base) for item in value]
        elif isinstance(value, dict):
            new = {key: _resolved_value(item, marker, base) for key, item in value.items()}
        else:
            new = _resolved_value(value, marker, base)
        if new != value:
            updates[name] = new
    return model.model_copy(update=updates) if updates else model


def _resolved_value(value: Any, marker: LocalPath | None, base: str) -> Any:
    if isinstance(value, BaseModel):
        return resolved(value, base)
    if isinstance(value, str) and marker is not None and marker.relative(value):
        return resolve_path(value, base)
    return value


__all__ = [
    "LOCAL_PATH",
    "LocalPath",
    "ModelName",
    "PathRef",
    "local_paths",
    "relative_paths",
    "resolve_path",
    "resolved",
]
