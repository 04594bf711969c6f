"""A put/get/verify round trip on ``file://`` for ``pro demo``: a self-test that leaves nothing behind."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pro.store.api import get_artifact, put_artifact, verify_artifact
from pro.store.config import StoreConfig
from pro.store.errors import StoreError
from pro.store.manifest import Producer


def round_trip(out: Path) -> str:
    """Store a small directory as an artifact, get it back and verify it, in a scratch directory under
    ``out`` (the file system the demo writes to) that is removed afterwards, whatever happened: the demo's
    store holds only the pipeline's artifacts.

    Returns a one-line summary; raises :class:`StoreError` if anything does not match.
    """
    Path(out).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".store-self-test-", dir=out) as scratch:
        root = Path(scratch).resolve()  # a file:// URI needs an absolute path
        src = root / "checkpoint"
        (src / "tokenizer").mkdir(parents=True)
        (src / "config.json").write_text(json.dumps({"model_type": "demo", "hidden_size": 8}))
        (src / "model.safetensors").write_bytes(bytes(range(256)) * 64)
        (src / "tokenizer" / "vocab.txt").write_text("<pad>\n<eos>\nhello\nworld\n")
        uri = (root / "artifact").as_uri()
        config = StoreConfig(cache_dir=root / "cache")
        manifest = put_artifact(
            src, uri, producer=Producer("Manual", "pro-demo-self-test"), work_digest="", config=config
        )
        got = get_artifact(uri, root / "restored", config=config)
        problems = verify_artifact(uri, config=config)
        differs = [
            f.path for f in manifest.files if (got / f.path).read_bytes() != (src / f.path).read_bytes()
        ]
        if problems or differs:
            raise StoreError(f"store round trip failed: {problems + differs}")
    return f"put, get and verified {len(manifest.files)} files ({manifest.total_size} bytes) on file://; nothing kept"
