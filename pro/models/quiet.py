"""Keep the libraries' own progress bars and advisories off the console (stage logs keep their warnings)."""

from __future__ import annotations

import os


def quiet_libraries() -> None:
    """No "Loading weights" / "Writing model shards" bars from transformers and the hub, no datasets bars."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover - datasets is a dependency; the slim operator has none of this
        pass


__all__ = ["quiet_libraries"]
