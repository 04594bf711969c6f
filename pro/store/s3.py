"""The backend for S3 and S3-compatible stores (placeholder until the S3 backend lands)."""

from __future__ import annotations

from pro.store.config import StoreConfig
from pro.store.errors import StoreError
from pro.store.uri import Location


class S3Backend:
    def __init__(self, location: Location, config: StoreConfig) -> None:
        raise StoreError(f"{location.uri}: s3:// is not available yet")
