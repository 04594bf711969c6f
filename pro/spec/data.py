"""Where data comes from: data references (local paths, ``file://`` and ``s3://`` URIs of JSONL/Parquet
files, prefixes and globs, with placeholders), the objects a run pins them to, and preference data sets.

A **data reference** is a string field typed :data:`DataRef`: a path (relative ones are relative to the spec
file's directory, :mod:`pro.spec.paths`), ``file:///abs/path`` or ``s3://bucket/key``; a reference ending in ``/`` is a prefix (every
``.jsonl``/``.parquet`` object under it), one with ``*``, ``?`` or ``[`` a glob.  Placeholders
(:mod:`pro.spec.placeholders`) stand for the firing's time and the latest complete drop.  When a run starts
each reference is pinned (:class:`PinnedData`): the exact objects with their size and ETag (S3) or sha256
(files); stages read exactly those objects and fail naming one that changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from pro.spec.base import SpecModel
from pro.spec.paths import LOCAL_PATH
from pro.spec.placeholders import PlaceholderError, check
from pro.spec.rules import problems_at
from pro.spec.walk import string_fields

#: the most objects one reference may pin (they are listed in the stage spec; use a narrower glob)
MAX_PINNED_OBJECTS = 1000
#: suffixes of the data files a prefix or glob selects
DATA_SUFFIXES = (".jsonl", ".json", ".ndjson", ".parquet", ".pq")


class _DataRefMarker:
    """Marks a string field as a data reference (found by :func:`iter_data_refs`)."""

    def __repr__(self) -> str:
        return "DATA_REF"


DATA_REF = _DataRefMarker()


def check_data_ref(value: str) -> str:
    """A usable reference: a known scheme, a bucket for ``s3://``, an absolute path for ``file://``, and
    valid placeholders."""
    if "://" in value:
        scheme, _, rest = value.partition("://")
        if scheme == "s3":
            if not rest.partition("/")[0]:
                raise ValueError(f"{value!r}: no bucket name; write s3://BUCKET/key")
        elif scheme == "file":
            if not rest.startswith("/"):
                raise ValueError(
                    f"{value!r}: a file URI needs an absolute path (file:///data/x.jsonl); "
                    "a relative path needs no scheme"
                )
        else:
            raise ValueError(f"{value!r}: unsupported scheme {scheme!r}; use s3://, file:// or a path")
    try:
        check(value)
    except PlaceholderError as err:
        raise ValueError(str(err)) from None
    return value


DataRef = Annotated[str, Field(min_length=1), AfterValidator(check_data_ref), DATA_REF, LOCAL_PATH]
"""A data reference (see the module docstring)."""


def is_glob(ref: str) -> bool:
    return any(c in ref for c in "*?[")


class DataObject(SpecModel):
    """One object a data reference resolved to, identified by its content."""

    uri: str
    """``s3://bucket/key`` or ``file:///abs/path``."""
    size: int = Field(ge=0)
    """Bytes."""
    etag: str | None = None
    """The S3 ETag when pinned (reading with ``If-Match`` fails if the object changed)."""
    sha256: str | None = None
    """Hex sha256 of the bytes (local files, or an S3 object whose drop manifest lists it)."""

    @property
    def identity(self) -> str:
        """What the object's content is known by (its location is not part of it)."""
        return f"{self.sha256 or ''}:{self.etag or ''}:{self.size}"


class PinnedData(SpecModel):
    """A data reference as the run pinned it: the objects read, in reading order."""

    objects: list[DataObject] = Field(min_length=1, max_length=MAX_PINNED_OBJECTS)
    """The objects, sorted by URI."""
    selected: str | None = None
    """The drop ``{{latestComplete}}`` selected (its prefix URI), when the reference has one."""


DataSnapshot = dict[str, PinnedData]
"""Data reference (as written in the spec, placeholders filled) → what it was pinned to."""


def iter_data_refs(model: BaseModel, path: str = "spec") -> Iterator[tuple[str, str]]:
    """``(field path, reference)`` of every data reference set in ``model`` (recursively) that pro reads
    itself (a public data set's local mirror is read by ``datasets``, not pinned)."""
    for field in string_fields(model, path, skip=_public_data_set):
        if not field.keyed and _is_ref_field(field.info.annotation, field.info.metadata):
            yield field.path, field.value


def _public_data_set(model: BaseModel) -> bool:
    return isinstance(model, DataSource) and model.format not in LOCAL_FORMATS


def _is_ref_field(annotation: Any, metadata: list[Any]) -> bool:
    if any(m is DATA_REF for m in metadata):
        return True
    return any(
        _is_ref_field(arg, list(getattr(arg, "__metadata__", ())))
        for arg in getattr(annotation, "__args__", ())
    )


DataFormat = Literal["jsonl", "parquet", "ultrafeedback", "hh-rlhf", "pku-saferlhf"]

#: the Hugging Face hub id each public format is loaded from unless ``hfId`` says otherwise
DEFAULT_HF_IDS: dict[str, str] = {
    "ultrafeedback": "openbmb/UltraFeedback",
    "hh-rlhf": "Anthropic/hh-rlhf",
    "pku-saferlhf": "PKU-Alignment/PKU-SafeRLHF",
}

#: the objectives each public format yields (local files carry theirs in each row)
FORMAT_OBJECTIVES: dict[str, tuple[str, ...]] = {
    "ultrafeedback": ("helpfulness", "honesty", "instruction_following", "truthfulness"),
    "hh-rlhf": ("helpfulness", "harmlessness"),
    "pku-saferlhf": ("helpfulness", "harmlessness"),
}

#: HH-RLHF data directories and the objective each one teaches
HH_DATA_DIRS: dict[str, str] = {"helpful-base": "helpfulness", "harmless-base": "harmlessness"}

LOCAL_FORMATS = ("jsonl", "parquet")


class DataSource(SpecModel):
    """A source of preference pairs: a local JSONL/Parquet file in the pro schema, or a public data set."""

    format: DataFormat
    """``jsonl`` or ``parquet`` (pro's schema), or a public data set in its own format:
    ``ultrafeedback`` (fine-grained ratings), ``hh-rlhf`` or ``pku-saferlhf``."""
    path: DataRef | None = None
    """A data reference (file, ``s3://``/``file://`` URI, prefix ending in ``/``, or glob). Required for
    ``jsonl``/``parquet``; for a public format a local file or directory in that data set's own format
    (e.g. a mirror) that replaces the hub download."""
    hf_id: str | None = None
    """Hugging Face hub id of a public format; defaults to the data set's official id."""
    split: str = Field(default="train", min_length=1)
    """Split to read (public formats)."""
    subset: str | None = None
    """Hub configuration name (``load_dataset(..., name=subset)``), where the data set has several."""
    data_dir: str | None = None
    """Hub data directory; for ``hh-rlhf`` one of ``helpful-base`` (helpfulness) or ``harmless-base``
    (harmlessness); unset reads both."""
    objectives: list[str] | None = None
    """Keep only these objectives (UltraFeedback aspects, HH/PKU objectives, or local rows' objective)."""
    max_rows: int | None = Field(default=None, ge=1)
    """At most this many pairs per objective, the first ones in data set order."""
    seed: int = 0
    """Seed of the deterministic choices (which lower-rated UltraFeedback completion is rejected)."""

    @model_validator(mode="after")
    def _check(self) -> DataSource:
        fmt = self.format
        if fmt in LOCAL_FORMATS:
            if not self.path:
                raise ValueError(f"format {fmt!r} needs 'path' (a local .{fmt} file)")
            bad = [
                ((name,), f"{name!r} applies only to hub formats, not to format {fmt!r}")
                for name, is_set in (
                    ("hfId", self.hf_id is not None),
                    ("subset", self.subset is not None),
                    ("dataDir", self.data_dir is not None),
                    ("split", self.split != "train"),
                )
                if is_set
            ]
            if bad:
                raise problems_at("DataSource", bad)
            return self
        allowed = FORMAT_OBJECTIVES[fmt]
        for objective in self.objectives or []:
            if objective not in allowed:
                raise ValueError(
                    f"format {fmt!r} has no objective {objective!r} (allowed: {', '.join(allowed)})"
                )
        if fmt == "hh-rlhf" and self.data_dir is not None and self.data_dir not in HH_DATA_DIRS:
            raise ValueError(
                f"hh-rlhf dataDir must be one of {', '.join(HH_DATA_DIRS)}, got {self.data_dir!r}"
            )
        return self

    @property
    def hub_id(self) -> str | None:
        """The hub id to load (``hfId`` or the format's default); None for local formats."""
        return self.hf_id or DEFAULT_HF_IDS.get(self.format)

    def describe(self) -> str:
        """A short human name of the source, used in error messages."""
        if self.path:
            return f"{self.format} {self.path}"
        return f"{self.format} {self.hub_id}"
