"""Keep the libraries' own progress bars and advisories off the console (stage logs keep their warnings)."""

from __future__ import annotations

import os
import sys


def quiet_libraries() -> None:
    """No "Loading weights" / "Writing model shards" bars from transformers and the hub, no datasets bars
    (by their environment variables, read when the library is imported: importing ``datasets`` here only
    to turn its bars off cost a stage that never uses it ~0.4 s of start-up)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # already imported (a stage forked from a warm interpreter, pro.runner.warm): the variables came late
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


__all__ = ["quiet_libraries"]
