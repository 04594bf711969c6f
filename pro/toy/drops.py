"""Weekly data drops made from a toy world: what a platform team's bucket looks like as new preference data
arrives (``pro toy drops``; the scheduled-alignment demo reads them).

Drop 1 holds the world's pairs per objective; every later drop is the previous one with one objective's pairs
extended by a fresh sample (the world generated again with another seed), the others byte-identical.  Each
drop is written into a temporary directory, then renamed, then marked complete (``_SUCCESS``, last), so a
reader never sees a half-written drop.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pro.data.errors import DataError
from pro.spec.placeholders import COMPLETION_MARKERS
from pro.toy.generate import generate


def write_drops(world: Path, out: Path, dates: Sequence[str], *, change: str) -> list[Path]:
    """One drop per date under ``out`` (``out/<date>/<objective>.jsonl`` and ``_SUCCESS``); returns them."""
    spec = world / "world.yaml"
    pairs = world / "pairs"
    if not spec.is_file() or not pairs.is_dir():
        raise DataError(f"{world}: not a generated toy world (run: pro toy generate --spec … --out {world})")
    objectives = sorted(
        p.name.removesuffix(".jsonl") for p in pairs.glob("*.jsonl") if ".test." not in p.name
    )
    if change not in objectives:
        raise DataError(
            f"--change {change!r}: the world has no objective of that name ({', '.join(objectives)})"
        )
    out.mkdir(parents=True, exist_ok=True)
    previous = {o: (pairs / f"{o}.jsonl").read_bytes() for o in objectives}
    made = []
    for i, date in enumerate(dates):
        if i:
            with tempfile.TemporaryDirectory(prefix="pro-drop-") as tmp:
                fresh = generate(spec, Path(tmp) / "w", seed=_seed(spec) + i, force=True).out
                previous[change] += (fresh / "pairs" / f"{change}.jsonl").read_bytes()
        made.append(_write(out / date, previous))
    return made


def _seed(spec: Path) -> int:
    import yaml

    return int((yaml.safe_load(spec.read_text()) or {}).get("seed", 0))


def _write(final: Path, files: dict[str, bytes]) -> Path:
    if final.exists():
        shutil.rmtree(final)
    staging = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for objective, data in files.items():
        (staging / f"{objective}.jsonl").write_bytes(data)
    staging.rename(final)
    (final / COMPLETION_MARKERS[0]).touch()  # last: the drop is complete
    return final


__all__ = ["write_drops"]
