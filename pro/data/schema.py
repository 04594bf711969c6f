"""The one preference-data schema, and the prompt/SFT record, as JSONL or Parquet files.

A preference pair is ``{"prompt", "chosen", "rejected", "objective", "category"?, "id"?}``: for
``prompt``, the response ``chosen`` is preferred to ``rejected`` with respect to ``objective``.
A prompt record is ``{"prompt", "completion"?, "category"?, "id"?}`` (SFT corpora, held-out prompts).

Malformed rows raise :class:`DataError` naming the file, the row and the field, e.g.
``data/a.jsonl:17: field "chosen": missing`` (JSONL rows are 1-based line numbers; Parquet rows
read ``data/a.parquet: row 17: …``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from pro.data.errors import DataError
from pro.data.objects import iter_records

#: file suffixes read as JSON lines; everything else must be ``.parquet``
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class PreferencePair:
    """One preference: for ``prompt``, ``chosen`` beats ``rejected`` on ``objective``."""

    prompt: str
    chosen: str
    rejected: str
    objective: str
    category: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as written to files (optional fields left out when unset)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class PromptRecord:
    """A prompt, optionally with a reference completion (SFT), a category and an id."""

    prompt: str
    completion: str | None = None
    category: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


R = TypeVar("R", PreferencePair, PromptRecord)

_REQUIRED: dict[type, tuple[str, ...]] = {
    PreferencePair: ("prompt", "chosen", "rejected", "objective"),
    PromptRecord: ("prompt",),
}


def row_error(where: str, field: str | None, problem: str) -> DataError:
    """``where: field "x": problem`` (``where`` is ``file:line`` or ``file: row N``)."""
    return DataError(f'{where}: field "{field}": {problem}' if field else f"{where}: {problem}")


def _from_row(kind: type[R], row: Any, where: str) -> R:
    if not isinstance(row, Mapping):
        raise row_error(where, None, f"expected a JSON object, got {type(row).__name__}")
    names = [f.name for f in fields(kind)]  # other columns are ignored
    values: dict[str, str | None] = {}
    for name in names:
        value = row.get(name)
        if value is None:
            if name in _REQUIRED[kind]:
                raise row_error(where, name, "missing")
            values[name] = None
            continue
        if isinstance(value, int) and not isinstance(value, bool) and name == "id":
            value = str(value)
        if not isinstance(value, str):
            raise row_error(where, name, f"expected a string, got {type(value).__name__}")
        if name in _REQUIRED[kind] and name not in {"chosen", "rejected"} and not value.strip():
            raise row_error(where, name, "empty")
        values[name] = value
    return kind(**values)  # type: ignore[arg-type]


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(
        f"{path}: unknown data file type (expected {', '.join(JSONL_SUFFIXES + PARQUET_SUFFIXES)})"
    )


def _iter(kind: type[R], ref: str | os.PathLike[str]) -> Iterator[R]:
    for where, row in iter_records(os.fspath(ref)):
        yield _from_row(kind, row, where)


def iter_pairs(ref: str | os.PathLike[str]) -> Iterator[PreferencePair]:
    """Stream preference pairs from a data reference (file, ``s3://``/``file://`` URI, prefix or glob of
    ``.jsonl``/``.parquet`` objects); a bad row raises :class:`DataError` naming the object and row."""
    return _iter(PreferencePair, ref)


def iter_prompts(ref: str | os.PathLike[str]) -> Iterator[PromptRecord]:
    """Stream prompt/SFT records (``prompt``, optional ``completion``, ``category``, ``id``)."""
    return _iter(PromptRecord, ref)


def read_pairs(path: str | os.PathLike[str]) -> list[PreferencePair]:
    """All preference pairs of a data reference (see :func:`iter_pairs`)."""
    return list(iter_pairs(path))


def read_prompts(path: str | os.PathLike[str]) -> list[PromptRecord]:
    """All prompt/SFT records of a data reference (see :func:`iter_prompts`)."""
    return list(iter_prompts(path))


def _write(kind: type[R], records: Iterable[R], path: str | os.PathLike[str]) -> int:
    p = Path(path)
    file_kind = _file_kind(p)
    rows = [r.to_dict() for r in records]
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as err:
        raise DataError(f"{p}: cannot write: {err.strerror or err}") from None
    try:
        if file_kind == "jsonl":
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            os.close(fd)
            import pyarrow as pa
            import pyarrow.parquet as pq

            names = [f.name for f in fields(kind)]
            columns = {n: [row.get(n) for row in rows] for n in names}
            schema = pa.schema([(n, pa.string()) for n in names])
            pq.write_table(pa.table(columns, schema=schema), tmp)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)


def write_pairs(pairs: Iterable[PreferencePair], path: str | os.PathLike[str]) -> int:
    """Write pairs as JSONL or Parquet (by suffix), atomically; returns the number of rows."""
    return _write(PreferencePair, pairs, path)


def write_prompts(records: Iterable[PromptRecord], path: str | os.PathLike[str]) -> int:
    """Write prompt/SFT records as JSONL or Parquet (by suffix), atomically."""
    return _write(PromptRecord, records, path)
