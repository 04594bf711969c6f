"""Load YAML specs into typed models, reporting every problem at once with its path and line.

A problem reads ``pipeline.yaml:12: spec.objectives[1].dataset: required field is missing``.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pro.errors import UserError

#: libyaml's emitter when PyYAML was built with it (the same YAML, several times faster)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec: where (YAML path and line) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(UserError):
    """A spec that failed to load; carries every problem found."""

    def __init__(self, source: str, problems: list[SpecProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.source}: {len(self.problems)} problem(s) in the spec"
        return "\n".join([head, *("  " + p.render(self.source) for p in self.problems)])


def format_path(loc: Loc) -> str:
    """``("spec", "objectives", 1, "dataset")`` → ``spec.objectives[1].dataset``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps node positions."""


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[SpecProblem]) -> None:
    """Record the 1-based line of every mapping key and list item; flag duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*loc, key)
            if key in seen:
                problems.append(
                    SpecProblem(format_path(child), "duplicate key", key_node.start_mark.line + 1)
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index_lines(item, (*loc, i), lines, problems)


@dataclass(frozen=True)
class Document:
    """A parsed YAML document with the line of every path in it."""

    data: Any
    lines: dict[Loc, int]
    source: str


def load_text(text: str, source: str = "<string>") -> Document:
    """Parse one YAML document; syntax errors and duplicate keys raise :class:`SpecError`."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(err, "problem", None) or str(err)
        raise SpecError(source, [SpecProblem("", f"invalid YAML: {reason}", line)]) from None
    if not nodes or nodes[0] is None:
        raise SpecError(source, [SpecProblem("", "the file is empty")])
    if len(nodes) > 1:
        raise SpecError(source, [SpecProblem("", f"expected one YAML document, found {len(nodes)}")])
    lines: dict[Loc, int] = {(): nodes[0].start_mark.line + 1}
    problems: list[SpecProblem] = []
    _index_lines(nodes[0], (), lines, problems)
    if problems:
        raise SpecError(source, problems)
    data = yaml.load(text, Loader=_Loader)
    return Document(data, lines, source)


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of the deepest part of ``loc`` that appears in the document."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _field_models(annotation: Any) -> list[type[BaseModel]]:
    """The models reachable directly from a field annotation (through Optional, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _field_models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple) or origin is not None:
        for arg in typing.get_args(annotation):
            found += _field_models(arg)
    return found


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """Follow ``loc`` (YAML names and indices) through the model's fields."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
        field = by_alias.get(part) or current.model_fields.get(part)
        if field is None:
            continue  # a tag pydantic adds for unions, or a dict key
        models = _field_models(field.annotation)
        current = models[0] if len(models) == 1 else None
    return current


def _explain(err: Any, model: type[BaseModel], loc: Loc) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        if parent is None:
            return "unknown field"
        allowed = sorted(f.alias or n for n, f in parent.model_fields.items())
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown field{hint} (allowed: {', '.join(allowed)})"
    if kind == "literal_error":
        return f"{msg}, got {err.get('input')!r}"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    return str(msg)


def _clean_loc(loc: Loc, data: Any) -> Loc:
    """Keep the parts of ``loc`` that are data keys; drop tags pydantic adds for unions and validators.

    A key absent from the data is kept only as the last part (a missing or unknown field).
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(part)
    return tuple(out)


def parse(model: type[M], doc: Document) -> M:
    """Validate ``doc`` as ``model``; every problem is reported, each with its line."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(tuple(err["loc"]), doc.data)
            problems.append(
                SpecProblem(format_path(loc), _explain(err, model, loc), _line_for(loc, doc.lines))
            )
        raise SpecError(doc.source, problems) from None


def read_document(path: str | Path) -> Document:
    """Read and parse one YAML file; an unreadable file is a :class:`SpecError` naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(p), [SpecProblem("", "no such file")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise SpecError(str(p), [SpecProblem("", f"cannot read: {err}")]) from None
    return load_text(text, str(p))


def load_file(path: str | Path, model: type[M]) -> M:
    """Read, parse and validate a YAML spec file."""
    return parse(model, read_document(path))


def dump_yaml(model: BaseModel) -> str:
    """A model as YAML with its spec field names (the inverse of :func:`load_file`)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.dump(data, Dumper=_SafeDumper, sort_keys=False)
