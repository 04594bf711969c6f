"""Load YAML specs into typed models, reporting every problem at once with its path and line.

A problem reads ``pipeline.yaml:12: spec.objectives[1].dataset: required field is missing``.
"""

from __future__ import annotations

import codecs
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from pro.errors import UserError
from pro.spec.k8s import INT64_MAX, PATTERN_MEANING

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


#: the largest spec file read: a Kubernetes object is at most 1.5 MiB (etcd's limit), a spec is far less
MAX_BYTES = 1536 * 1024
#: the most values (mappings, lists and scalars) a document may hold once its aliases are expanded
MAX_VALUES = 100_000
#: Kubernetes integers are 64-bit
_INT64 = (-INT64_MAX - 1, INT64_MAX)

_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
#: plain scalars read as kubectl reads them (YAML 1.1 as go-yaml v2 resolves it): ``y``/``n`` are booleans,
#: ``1e-5`` and ``0o17`` are numbers, and dates (``2026-01-01``), sexagesimal ``1:30`` and ``=`` stay strings
_RESOLVERS: list[tuple[str, re.Pattern[str], str]] = [
    (_BOOL, re.compile(r"^(?:[yYnN]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
     "yYnNtTfFoO"),
    (_INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
     "-+0123456789"),
    (_FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), "-+.0123456789"),
]  # fmt: skip
_REPLACED = {_BOOL, _INT, _FLOAT, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader (node positions kept) with kubectl's scalar types."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, rx) for tag, rx in found if tag not in _REPLACED]
        for first, found in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    bool_values: ClassVar[dict[str, bool]] = {**yaml.SafeLoader.bool_values, "y": True, "n": False}

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            value: int = super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"integer {str(node.value)[:20]}… has {len(str(node.value))} digits",
                node.start_mark,
            ) from None
        return value


for _tag, _rx, _first in _RESOLVERS:
    _Loader.add_implicit_resolver(_tag, _rx, list(_first))
_Loader.add_constructor(_INT, _Loader.construct_yaml_int)


def _walk_nodes(root: yaml.Node, problems: list[SpecProblem]) -> dict[Loc, int]:
    """The 1-based line of every mapping key and list item (aliases followed); duplicate keys, and keys
    holding a tab or a non-breaking space (pasted indentation), flagged.

    Iterative, and only after :func:`_check_size` bounded the expanded document."""
    lines: dict[Loc, int] = {(): root.start_mark.line + 1}
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = str(key_node.value)
                child = (*loc, key)
                if key in seen:
                    problems.append(
                        SpecProblem(format_path(child), "duplicate key", key_node.start_mark.line + 1)
                    )
                odd = [c for c in key if c.isspace() and c != " "]
                if odd:
                    problems.append(SpecProblem(
                        "", f"{_char_name(odd[0])} in the key {key.strip()!r}: use plain spaces",
                        key_node.start_mark.line + 1,
                    ))  # fmt: skip
                seen.add(key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                stack.append((item, (*loc, i)))
    return lines


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node) -> tuple[int, str] | None:
    """(line, problem) when aliases make the document hold more than :data:`MAX_VALUES` values once
    expanded, or refer to themselves (None: fine).  Linear in the nodes written, whatever aliases multiply."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order over distinct nodes, each size computed once
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        if not ready:
            visiting.add(id(node))
            stack.append((node, True))
            for child in _children(node):
                if id(child) in visiting:
                    return (
                        child.start_mark.line + 1,
                        "an alias (*name) inside its own anchor (&name): the value never ends",
                    )
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        visiting.discard(id(node))
        sizes[id(node)] = size = 1 + sum(sizes[id(c)] for c in _children(node))
        if size > MAX_VALUES and size > len(sizes):
            problem = f"the document holds more than {MAX_VALUES} values once its aliases (*name) are expanded; write the values out"
            return node.start_mark.line + 1, problem
    return None


@dataclass(frozen=True)
class Document:
    """A parsed YAML document with the line of every path in it."""

    data: Any
    lines: dict[Loc, int]
    source: str


def _char_name(ch: str) -> str:
    names = {
        "\t": "a tab",
        "\u00a0": "a non-breaking space (U+00A0)",
        "\u3000": "an ideographic space (U+3000)",
    }
    return names.get(ch, f"the character {ch!r} (U+{ord(ch):04X})")


#: YAML errors whose context (where the parser started reading) is where the mistake is
_STARTS_AT_CONTEXT = {
    "while scanning a simple key": "a key without its ':'",
    "while parsing a flow mapping": "a {...} mapping not closed",
    "while parsing a flow sequence": "a [...] list not closed",
}


def _odd_indentation(lines: list[str], upto: int) -> tuple[int, int, str] | None:
    """The last line at or before ``upto`` (within 20 lines) whose indentation holds whitespace other than
    plain spaces (a tab, a non-breaking space): (line, column, character), 0-based."""
    for row in range(min(upto, len(lines) - 1), max(-1, upto - 20), -1):
        text = lines[row]
        for column, ch in enumerate(text):
            if ch == " ":
                continue
            if ch == "\t" or (ch.isspace() and ch not in "\n\r"):
                return row, column, ch
            break
    return None


def _keyless_line(lines: list[str], row: int) -> int | None:
    """The line above ``row``, indented as it is, that holds no ``key:`` (a plain value that swallowed the
    lines below it), 0-based."""
    if row >= len(lines):
        return None
    indent = len(lines[row]) - len(lines[row].lstrip(" "))
    for above in range(row - 1, -1, -1):
        text = lines[above]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if len(text) - len(text.lstrip(" ")) != indent:
            return None
        if not re.search(r":(\s|$)", text):
            return above
    return None


def _yaml_problem(err: yaml.YAMLError, text: str) -> SpecProblem:
    """One line for a YAML syntax error, at the line where the mistake is."""
    mark = getattr(err, "problem_mark", None)
    problem = str(getattr(err, "problem", None) or err)
    context = getattr(err, "context", None) or ""
    context_mark = getattr(err, "context_mark", None)
    if context == "while scanning a quoted scalar" and context_mark is not None:
        end = f" (the file ends at line {mark.line + 1})" if "end of stream" in problem and mark else ""
        return SpecProblem(
            "",
            f"unclosed quote: the string starting at column {context_mark.column + 1} has no closing quote{end}",
            context_mark.line + 1,
        )
    if context in _STARTS_AT_CONTEXT and context_mark is not None and mark is not None:
        # the mistake is where the key or the {...}/[...] starts, not where the parser gave up
        what = _STARTS_AT_CONTEXT[context]
        return SpecProblem(
            "",
            f"{what} at column {context_mark.column + 1}: {problem} (noticed at line {mark.line + 1})",
            context_mark.line + 1,
        )
    if mark is None:
        return SpecProblem("", f"invalid YAML: {problem}")
    lines = text.splitlines()
    odd = _odd_indentation(lines, mark.line)
    if odd is not None:
        row, column, ch = odd
        return SpecProblem(
            "",
            f"{_char_name(ch)} at column {column + 1} in the indentation: indent with plain spaces",
            row + 1,
        )
    row_text = lines[mark.line] if mark.line < len(lines) else ""
    ch = row_text[mark.column] if mark.column < len(row_text) else ""
    if ch and not ch.isprintable() and ch not in "\n\r":
        return SpecProblem("", f"{_char_name(ch)} at column {mark.column + 1}: remove it", mark.line + 1)
    if ch and "cannot start any token" in problem:
        return SpecProblem(
            "", f"{ch!r} cannot start a value at column {mark.column + 1}: quote the value", mark.line + 1
        )
    if "mapping values are not allowed" in problem:
        keyless = _keyless_line(lines, mark.line)
        if keyless is not None:
            return SpecProblem(
                "", "a key without its ':' (the next line was read as part of it)", keyless + 1
            )
    where = f" ({context} at line {context_mark.line + 1})" if context and context_mark is not None else ""
    return SpecProblem("", f"invalid YAML at column {mark.column + 1}: {problem}{where}", mark.line + 1)


def load_documents(text: str, source: str = "<string>") -> list[Document]:
    """Parse every YAML document of ``text`` once (empty ones, e.g. after a trailing ``---``, are skipped);
    syntax errors, duplicate keys and alias bombs raise :class:`SpecError` naming the line."""
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            too_big = _check_size(node) if "&" in text else None  # no anchor, no alias
            if too_big is not None:
                raise SpecError(source, [SpecProblem("", too_big[1], too_big[0])])
            problems: list[SpecProblem] = []
            lines = _walk_nodes(node, problems)
            if problems:
                raise SpecError(source, problems)
            data = loader.construct_document(node)
            if data is not None:
                docs.append(Document(data, lines, source))
    except yaml.YAMLError as err:
        raise SpecError(source, [_yaml_problem(err, text)]) from None
    finally:
        loader.dispose()
    return docs


def load_text(text: str, source: str = "<string>") -> Document:
    """Parse one YAML document; syntax errors and duplicate keys raise :class:`SpecError`."""
    return _one(load_documents(text, source), source)


def _one(docs: list[Document], source: str) -> Document:
    if not docs:
        raise SpecError(source, [SpecProblem("", "the file is empty")])
    if len(docs) > 1:
        where = ", ".join(str(d.lines[()]) for d in docs)
        raise SpecError(
            source, [SpecProblem("", f"expected one YAML document, found {len(docs)} (at lines {where})")]
        )
    return docs[0]


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


def describe(value: Any) -> str:
    """A value as a message shows it: YAML's spelling of scalars, the kind of a collection."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _looks_like(value: str, kind: type) -> bool:
    try:
        kind(value.strip())
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity")


_EXPECTED = {
    "int_type": ("an integer", int),
    "float_type": ("a number", float),
    "bool_type": ("true or false", None),
    "string_type": ("a string", None),
    "dict_type": ("a mapping (key: value lines)", None),
    "model_type": ("a mapping (key: value lines)", None),
    "model_attributes_type": ("a mapping (key: value lines)", None),
    "list_type": ("a list (lines starting with '- ')", None),
}


def _explain(err: Any, model: type[BaseModel], loc: Loc) -> str:
    kind, msg, ctx = err["type"], str(err["msg"]), err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        odd = [c for c in str(loc[-1]) if c.isspace() and c != " "]
        if odd:
            return f"unknown field {loc[-1]!r}: it holds {_char_name(odd[0])}; use plain spaces"
        parent = _model_at(model, loc[:-1])
        if parent is None:
            return "unknown field (the cluster would drop it)"
        allowed = sorted(f.alias or n for n, f in parent.model_fields.items())
        camel = to_camel(str(loc[-1]))
        if camel != loc[-1] and camel in allowed:
            return (
                f"unknown field: fields are camelCase, write {camel!r} (the cluster would drop {loc[-1]!r})"
            )
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown field{hint} (allowed: {', '.join(allowed)}; the cluster drops unknown fields)"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in _EXPECTED:
        want, number = _EXPECTED[kind]
        if value is None:
            return f"expected {want}, got null: leave the field out for its default"
        if isinstance(value, str) and number is not None and _looks_like(value, number):
            return f"expected {want}, got the string {describe(value)}: write it without quotes"
        if kind == "string_type" and isinstance(value, (int, float, bool)):
            return f'expected a string, got {describe(value)}: quote it ("{describe(value)}")'
        return f"expected {want}, got {describe(value)}"
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern")) in PATTERN_MEANING:
        return f"{describe(value)} is not {PATTERN_MEANING[str(ctx.get('pattern'))]}"
    return f"{msg}, got {describe(value)}" if not isinstance(value, (dict, list)) else msg


def _fields(model: type[BaseModel] | None) -> set[str]:
    return set() if model is None else {f.alias or n for n, f in model.model_fields.items()}


def _clean_loc(loc: Loc, data: Any, model: type[BaseModel]) -> Loc:
    """Keep the parts of ``loc`` that are data keys or fields of the model there; drop the tags pydantic
    adds for unions and validators.  A field absent from the data is kept (a missing or unknown field, or
    a rule broken by a default), and so is everything below it."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif (node is None or isinstance(node, dict)) and (
            (i == len(loc) - 1 and node is not None) or part in _fields(_model_at(model, tuple(out)))
        ):
            out.append(part)
            node = None
    return tuple(out)


def _value_problems(data: Any) -> list[tuple[Loc, str]]:
    """Numbers the cluster cannot hold: integers beyond 64 bits, infinities and NaN (JSON has none)."""
    out: list[tuple[Loc, str]] = []
    stack: list[tuple[Any, Loc]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, dict):
            stack += [(v, (*loc, str(k))) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, (*loc, i)) for i, v in enumerate(value)]
        elif isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            digits = str(value) if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit integer"
            out.append(
                (loc, f"{digits} is out of range: Kubernetes integers are 64-bit (at most {_INT64[1]})")
            )
        elif isinstance(value, float) and not math.isfinite(value):
            out.append((loc, f"{value} is not a finite number (JSON and Kubernetes have no {value})"))
    return sorted(out, key=lambda p: [str(x) for x in p[0]])


def _by_place(errors: list[Any], data: Any, model: type[BaseModel]) -> dict[Loc, list[Any]]:
    """Pydantic's errors grouped by the data path they concern (union branches share one)."""
    out: dict[Loc, list[Any]] = {}
    for err in errors:
        out.setdefault(_clean_loc(tuple(err["loc"]), data, model), []).append(err)
    return out


def _union_messages(errs: list[Any], model: type[BaseModel], loc: Loc) -> list[str]:
    """The messages of one place.  Where a union's branches each complain, the branch of the value's own
    type says what is wrong; when every branch wants another type, one line lists them."""
    wrong_type = [e for e in errs if e["type"] in _EXPECTED]
    if len(errs) > 1 and len(wrong_type) < len(errs):
        errs = [e for e in errs if e["type"] not in _EXPECTED]
    elif len(wrong_type) > 1:
        wants = list(dict.fromkeys(_EXPECTED[e["type"]][0] for e in wrong_type))
        return [f"expected {' or '.join(wants)}, got {describe(wrong_type[0].get('input'))}"]
    return list(dict.fromkeys(_explain(e, model, loc) for e in errs))


def parse(model: type[M], doc: Document) -> M:
    """Validate ``doc`` as ``model`` as the cluster reads a spec: camelCase field names only, no type
    coercion (``"500"`` is not a number), 64-bit integers; every problem is reported, each with its line."""
    if not isinstance(doc.data, dict):
        shape = f"expected a mapping of field names to values, got {describe(doc.data)}"
        raise SpecError(doc.source, [SpecProblem("", shape, doc.lines.get(()))])
    found = _value_problems(doc.data)
    errors: list[Any] = []
    try:
        result = model.model_validate(doc.data, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        errors = exc.errors()
    explained = list(found)
    flagged = {loc for loc, _ in found}
    for loc, errs in _by_place(errors, doc.data, model).items():
        if loc not in flagged:
            explained += [(loc, message) for message in _union_messages(errs, model, loc)]
    problems: list[SpecProblem] = []
    for loc, message in explained:
        problem = SpecProblem(format_path(loc), message, _line_for(loc, doc.lines))
        if problem not in problems:
            problems.append(problem)
    if problems:
        raise SpecError(doc.source, problems)
    return result


def decode(raw: bytes, source: str) -> str:
    """Spec bytes as text, as kubectl reads them: UTF-8, or UTF-16/32 with a byte-order mark."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            raw, used = raw[len(bom) :], encoding
            break
    else:
        used = "utf-8"
    try:
        return raw.decode(used)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problem = f"not {used.upper()} text: byte 0x{raw[err.start]:02x} at offset {err.start}; save the file as UTF-8"
        raise SpecError(source, [SpecProblem("", problem, line)]) from None


def read_documents(path: str | Path) -> list[Document]:
    """Read every YAML document of a file (at most :data:`MAX_BYTES`); an unreadable file is a
    :class:`SpecError` naming it."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(str(p), [SpecProblem("", "no such file")]) from None
    except OSError as err:
        raise SpecError(str(p), [SpecProblem("", f"cannot read: {err.strerror or err}")]) from None
    if len(raw) > MAX_BYTES:
        size = p.stat().st_size if p.is_file() else len(raw)
        problem = (
            f"the file has {size} bytes, more than {MAX_BYTES} (a Kubernetes object is at most 1.5 MiB; "
            "is this the right file?)"
        )
        raise SpecError(str(p), [SpecProblem("", problem)])
    return load_documents(decode(raw, str(p)), str(p))


def read_document(path: str | Path) -> Document:
    """Read and parse a file holding one YAML document (see :func:`read_documents`)."""
    return _one(read_documents(path), str(path))


def load_file(path: str | Path, model: type[M]) -> M:
    """Read, parse and validate a YAML spec file."""
    return parse(model, read_document(path))


def dump_yaml(model: BaseModel) -> str:
    """A model as YAML with its spec field names (the inverse of :func:`load_file`)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.dump(data, Dumper=_SafeDumper, sort_keys=False)
