"""Artifacts: directories stored under ``s3://``, ``file://`` or local paths, committed by a manifest.

An artifact is a prefix holding files plus ``manifest.json``, written last, listing every file
with its size and sha256.  Without a valid manifest there is no artifact.  See docs/store.md.
"""

from __future__ import annotations

from pro.store.api import (
    artifact_exists,
    delete_artifact,
    get_artifact,
    list_artifacts,
    local_artifact,
    put_artifact,
    read_manifest,
    verify_artifact,
)
from pro.store.config import StoreConfig
from pro.store.errors import StoreError
from pro.store.manifest import FileEntry, Manifest, Producer
from pro.store.uri import join_uri

__all__ = [
    "FileEntry",
    "Manifest",
    "Producer",
    "StoreConfig",
    "StoreError",
    "artifact_exists",
    "delete_artifact",
    "get_artifact",
    "join_uri",
    "list_artifacts",
    "local_artifact",
    "put_artifact",
    "read_manifest",
    "verify_artifact",
]
