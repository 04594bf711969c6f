"""Load preference pairs from a :class:`~pro.spec.data.DataSource`.

Local ``jsonl``/``parquet`` files are read with :func:`pro.data.schema.read_pairs`. The public data
sets go through ``datasets.load_dataset`` — from the hub by default, or from local files in the data
set's own format when ``path`` is set — and then through the same converter:

- **UltraFeedback** (``openbmb/UltraFeedback``): for each aspect (helpfulness, honesty,
  instruction_following, truthfulness) chosen = a best-rated completion, rejected = a strictly
  lower-rated one, both drawn deterministically from ``seed``; rows where every rated completion
  ties, and "N/A" ratings, are skipped.
- **HH-RLHF** (``Anthropic/hh-rlhf``): ``helpful-base`` → helpfulness, ``harmless-base`` →
  harmlessness; the shared transcript up to the last ``"\\n\\nAssistant:"`` is the prompt.
- **PKU-SafeRLHF** (``PKU-Alignment/PKU-SafeRLHF``): ``better_response_id`` → helpfulness,
  ``safer_response_id`` → harmlessness.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pro.data.errors import DataError
from pro.data.schema import PreferencePair, iter_pairs, row_error
from pro.spec.data import FORMAT_OBJECTIVES, HH_DATA_DIRS, DataSource

ASSISTANT = "\n\nAssistant:"

Row = Mapping[str, Any]
Converter = Callable[[Row, str, int, DataSource, tuple[str, ...]], Iterable[PreferencePair]]


def load_preferences(source: DataSource, objective: str | None = None) -> list[PreferencePair]:
    """All pairs of ``source`` (only ``objective``'s, when given), at most ``maxRows`` per objective."""
    wanted = _wanted(source, objective)
    if source.format in ("jsonl", "parquet"):
        pairs: Iterable[PreferencePair] = iter_pairs(source.path or "")
        if wanted is not None:
            pairs = (p for p in pairs if p.objective in wanted)
        return _cap(pairs, source.max_rows, wanted)
    objectives = wanted if wanted is not None else FORMAT_OBJECTIVES[source.format]
    if source.format == "hh-rlhf":
        data_dirs = [source.data_dir] if source.data_dir else list(HH_DATA_DIRS)
        if source.path and not source.data_dir and not Path(source.path).is_dir():
            raise DataError(
                f"{source.describe()}: a single hh-rlhf file needs dataDir "
                f"({' or '.join(HH_DATA_DIRS)}) to name its objective"
            )
        out: list[PreferencePair] = []
        for data_dir in data_dirs:
            if HH_DATA_DIRS[data_dir] in objectives:
                out += _from_hub(source, _hh_rows, (HH_DATA_DIRS[data_dir],), data_dir)
        return out
    convert = _ultrafeedback_rows if source.format == "ultrafeedback" else _pku_rows
    return _from_hub(source, convert, tuple(objectives), source.data_dir)


def _wanted(source: DataSource, objective: str | None) -> tuple[str, ...] | None:
    wanted = tuple(source.objectives) if source.objectives else None
    if objective is None:
        return wanted
    if wanted is not None and objective not in wanted:
        raise DataError(f"{source.describe()}: objective {objective!r} is not among {', '.join(wanted)}")
    allowed = FORMAT_OBJECTIVES.get(source.format)
    if allowed is not None and objective not in allowed:
        raise DataError(
            f"{source.describe()}: format {source.format} has no objective {objective!r} "
            f"(allowed: {', '.join(allowed)})"
        )
    return (objective,)


def _cap(
    pairs: Iterable[PreferencePair], max_rows: int | None, objectives: Iterable[str] | None
) -> list[PreferencePair]:
    """Keep the first ``max_rows`` pairs of each objective; stop reading once every objective is full."""
    if max_rows is None:
        return list(pairs)
    counts: dict[str, int] = {}
    full_needed = len(set(objectives)) if objectives is not None else None
    out = []
    for pair in pairs:
        n = counts.get(pair.objective, 0)
        if n < max_rows:
            out.append(pair)
            counts[pair.objective] = n + 1
            if full_needed is not None and sum(c >= max_rows for c in counts.values()) >= full_needed:
                break
    return out


def _load_dataset(source: DataSource, data_dir: str | None) -> Any:
    """The split through ``datasets.load_dataset``: hub id, or local files in the data set's format."""
    import datasets

    # with maxRows, rows are streamed: only the rows kept are read (a whole split is never loaded)
    kwargs: dict[str, Any] = {"split": source.split, "streaming": source.max_rows is not None}
    if source.subset:
        kwargs["name"] = source.subset
    where = source.describe()
    if source.path:
        path = Path(source.path)
        if path.is_dir():
            args: tuple[str, ...] = (str(path),)
            if data_dir:
                kwargs["data_dir"] = data_dir
        else:
            if not any(c in source.path for c in "*?[") and not path.exists():
                raise DataError(f"{where}: no such file or directory")
            args = (_builder_for(path.name),)
            kwargs["data_files"] = {source.split: source.path}
    else:
        args = (source.hub_id or "",)
        if data_dir:
            kwargs["data_dir"] = data_dir
    with _load_errors(where, source.split):
        return datasets.load_dataset(*args, **kwargs)


@contextlib.contextmanager
def _load_errors(where: str, split: str) -> Iterator[None]:
    """``datasets``' and ``pyarrow``'s errors about a source (raised when it is opened, or while rows are
    streamed) as one :class:`DataError` naming it."""
    import datasets

    try:
        yield
    except (FileNotFoundError, ValueError, OSError, datasets.exceptions.DatasetNotFoundError) as err:
        raise DataError(f"{where}: cannot load split {split!r}: {err}") from None
    except Exception as err:  # arrow/json parse errors of malformed local files
        if type(err).__module__.startswith(("datasets", "pyarrow")):
            raise DataError(f"{where}: cannot load split {split!r}: {err}") from None
        raise


def _builder_for(name: str) -> str:
    lower = name.lower().removesuffix(".gz").removesuffix(".zst").removesuffix(".bz2")
    if lower.endswith((".jsonl", ".json", ".ndjson")):
        return "json"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith(".csv"):
        return "csv"
    raise DataError(f"{name}: unknown data file type (expected .jsonl, .json, .parquet or .csv)")


def _from_hub(
    source: DataSource, convert: Converter, objectives: tuple[str, ...], data_dir: str | None
) -> list[PreferencePair]:
    dataset = _load_dataset(source, data_dir)
    where = source.describe() + (f" ({data_dir})" if data_dir else "")

    def pairs() -> Iterator[PreferencePair]:
        with _load_errors(where, source.split):
            for index, row in enumerate(dataset, start=1):
                yield from convert(row, f"{where}: row {index}", index, source, objectives)

    return _cap(pairs(), source.max_rows, objectives)


def _text(row: Row, name: str, where: str) -> str:
    value = row.get(name)
    if value is None:
        raise row_error(where, name, "missing")
    if not isinstance(value, str):
        raise row_error(where, name, f"expected a string, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------- UltraFeedback


def _rating(completion: Any, aspect: str, where: str) -> float | None:
    """The completion's numeric rating on ``aspect``; None for "N/A" or an absent annotation."""
    if not isinstance(completion, Mapping):
        raise row_error(where, "completions", "each completion must be an object")
    annotations = completion.get("annotations")
    if not isinstance(annotations, Mapping):
        raise row_error(where, "completions[].annotations", "missing")
    entry = annotations.get(aspect)
    if entry is None:
        return None
    if isinstance(entry, list):  # some mirrors store one annotation per rater
        entry = entry[0] if entry else None
    value = entry.get("Rating") if isinstance(entry, Mapping) else None
    if value is None or (isinstance(value, str) and value.strip().upper() in ("N/A", "NA", "")):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise row_error(
            where, f"completions[].annotations.{aspect}.Rating", f"not a number: {value!r}"
        ) from None


def _ultrafeedback_rows(
    row: Row, where: str, index: int, source: DataSource, objectives: tuple[str, ...]
) -> Iterator[PreferencePair]:
    prompt = _text(row, "instruction", where)
    completions = row.get("completions")
    if not isinstance(completions, list):
        raise row_error(where, "completions", "missing" if completions is None else "expected a list")
    responses = [_text(c, "response", f"{where}: completion {i + 1}") for i, c in enumerate(completions)]
    category = row.get("source") if isinstance(row.get("source"), str) else None
    for aspect in objectives:
        rated = [
            (r, text)
            for c, text in zip(completions, responses, strict=True)
            if (r := _rating(c, aspect, where)) is not None
        ]
        if len(rated) < 2:
            continue
        best = max(r for r, _ in rated)
        top = [t for r, t in rated if r == best]
        lower = [t for r, t in rated if r < best]
        if not lower:
            continue  # every rated completion ties: no preference
        rng = random.Random(f"{source.seed}:{index}:{aspect}")
        yield PreferencePair(
            prompt=prompt,
            chosen=rng.choice(top),
            rejected=rng.choice(lower),
            objective=aspect,
            category=category,
            id=f"uf-{source.split}-{index}-{aspect}",
        )


# ---------------------------------------------------------------- HH-RLHF


def split_transcript(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """(prompt, chosen reply, rejected reply): the shared prefix up to the last ``\\n\\nAssistant:``."""
    n = 0
    for a, b in zip(chosen, rejected, strict=False):
        if a != b:
            break
        n += 1
    common = chosen[:n]
    cut = common.rfind(ASSISTANT)
    if cut < 0:
        return None
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:].strip(), rejected[end:].strip()


def _hh_rows(
    row: Row, where: str, index: int, source: DataSource, objectives: tuple[str, ...]
) -> Iterator[PreferencePair]:
    chosen = _text(row, "chosen", where)
    rejected = _text(row, "rejected", where)
    parts = split_transcript(chosen, rejected)
    if parts is None:
        raise row_error(where, "chosen", 'no shared prefix ending in "\\n\\nAssistant:"')
    prompt, good, bad = parts
    if good == bad:
        return
    yield PreferencePair(
        prompt=prompt,
        chosen=good,
        rejected=bad,
        objective=objectives[0],
        id=f"hh-{objectives[0]}-{source.split}-{index}",
    )


# ---------------------------------------------------------------- PKU-SafeRLHF


def _choice(row: Row, name: str, where: str) -> int:
    value = row.get(name)
    if value is None:
        raise row_error(where, name, "missing")
    if isinstance(value, bool) or value not in (0, 1):
        raise row_error(where, name, f"must be 0 or 1, got {value!r}")
    return int(value)


def _pku_rows(
    row: Row, where: str, index: int, source: DataSource, objectives: tuple[str, ...]
) -> Iterator[PreferencePair]:
    prompt = _text(row, "prompt", where)
    responses = (_text(row, "response_0", where), _text(row, "response_1", where))
    for objective, column in (("helpfulness", "better_response_id"), ("harmlessness", "safer_response_id")):
        if objective not in objectives:
            continue
        best = _choice(row, column, where)
        if responses[0] == responses[1]:
            continue
        yield PreferencePair(
            prompt=prompt,
            chosen=responses[best],
            rejected=responses[1 - best],
            objective=objective,
            id=f"pku-{source.split}-{index}-{objective}",
        )
