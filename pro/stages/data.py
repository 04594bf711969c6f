"""Reading and splitting preference data for the stages."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pro.data.schema import PreferencePair
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
