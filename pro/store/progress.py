"""A byte-counting progress bar (rich) for large transfers, and nothing for small ones."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from pro.store.hashing import OnBytes

#: transfers smaller than this show no bar
MIN_BYTES = 32 * 1024 * 1024


@contextlib.contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[OnBytes | None]:
    """Yields a thread-safe ``on_bytes(n)`` callback, or None when no bar is shown."""
    if not enabled or total < MIN_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
