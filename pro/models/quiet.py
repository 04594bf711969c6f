"""Keep the libraries' own progress bars and advisories off the console (stage logs keep their warnings)."""

from __future__ import annotations

import os


def quiet_libraries() -> None:
    """No "Loading weights" / "Writing model shards" bars from transformers and the hub, no datasets bars
    (by their environment variables, read when the library is imported: importing ``datasets`` here only
    to turn its bars off cost a stage that never uses it ~0.4 s of start-up)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


__all__ = ["quiet_libraries"]
