"""Where preference data comes from: a local file or one of the public preference data sets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pro.spec.base import SpecModel

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
    path: str | None = None
    """Local file, glob or directory. Required for ``jsonl``/``parquet``; for a public format it
    replaces the hub download (files in that data set's own format, e.g. a mirror)."""
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
            for name, value in (("hfId", self.hf_id), ("subset", self.subset), ("dataDir", self.data_dir)):
                if value is not None:
                    raise ValueError(f"{name!r} applies only to hub formats, not to format {fmt!r}")
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
