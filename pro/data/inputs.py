"""What a training stage reads: training and held-out preference pairs (the given evaluation data, or a
deterministic split by prompt hash) and the distinct prompts of a prompt file or preference source."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from pro.data.schema import PreferencePair, iter_prompts
from pro.data.sources import load_preferences
from pro.errors import UserError
from pro.spec.data import DataSource


def _bucket(prompt: str, seed: int) -> float:
    h = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_by_prompt(
    pairs: Sequence[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Deterministic split by prompt hash (all rows of a prompt land on the same side)."""
    if fraction <= 0:
        return list(pairs), []
    train = [p for p in pairs if _bucket(p.prompt, seed) >= fraction]
    held = [p for p in pairs if _bucket(p.prompt, seed) < fraction]
    if not train:  # tiny data: keep something to train on
        return list(pairs), held
    return train, held


def load_split(
    data: DataSource, eval_data: DataSource | None, fraction: float, seed: int, objective: str | None = None
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Training and held-out pairs: ``eval_data`` when given, else a ``fraction`` split of ``data``."""
    pairs = load_preferences(data, objective=objective)
    what = f" for objective {objective!r}" if objective else ""
    if not pairs:
        raise UserError(f"{data.describe()}: no preference pairs{what}")
    if eval_data is not None:
        return pairs, load_preferences(eval_data, objective=objective)
    return split_by_prompt(pairs, fraction, seed)


def read_prompt_texts(source: DataSource | str, limit: int | None = None) -> list[str]:
    """Distinct prompts, in file order, from a prompt file or a preference source; reading stops once
    ``limit`` are found."""
    if isinstance(source, str):
        if not Path(source).exists():
            raise UserError(f"prompts: {source}: no such file")
        prompts: Iterable[str] = (r.prompt for r in iter_prompts(source))
    else:
        prompts = (p.prompt for p in load_preferences(source))
    seen: dict[str, None] = {}
    for p in prompts:
        seen.setdefault(p, None)
        if limit and len(seen) >= limit:
            break
    if not seen:
        raise UserError("prompts: no prompts found")
    return list(seen)
