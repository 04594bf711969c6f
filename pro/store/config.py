"""Settings of the artifact store (transfers, endpoint, cache); credentials are never here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


def default_cache_dir() -> Path:
    """``$PRO_CACHE_DIR`` or ``~/.cache/pro/artifacts``."""
    env = os.environ.get("PRO_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pro" / "artifacts"


@dataclass
class StoreConfig:
    """Where S3 is and how transfers run.

    ``None`` endpoint/region/addressing style defer to boto3's standard chain
    (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
    ``AWS_PROFILE`` and the shared config file); ``PRO_S3_ADDRESSING_STYLE`` sets the style.
    """

    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str | None = None
    #: smaller files go in one PUT (AWS advises multipart above about 100 MB): one request, nothing for
    #: the store to assemble; a checkpoint's shards are sent in parallel anyway
    multipart_threshold_mb: int = 100
    multipart_chunksize_mb: int = 16
    max_concurrency: int = 10
    cache_dir: Path | None = field(default_factory=default_cache_dir)

    @property
    def chunk_bytes(self) -> int:
        return max(5, self.multipart_chunksize_mb) * MIB

    @property
    def threshold_bytes(self) -> int:
        return max(5, self.multipart_threshold_mb) * MIB

    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()

    def resolved_addressing_style(self) -> str | None:
        return self.addressing_style or os.environ.get("PRO_S3_ADDRESSING_STYLE") or None
