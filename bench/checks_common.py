"""What the seed's next checks share: the shipped world prepared as ``bench/optimum.py`` prepares it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORLD = REPO / "examples" / "toy" / "world.yaml"


def shipped(root: Path, quick: bool) -> Any:
    """The shipped world with the example pipeline's reward models and adapter (``--quick``: tiny)."""
    from pro.testing import study

    profile = study.QUICK_PROFILE if quick else study.PIPELINE_PROFILE
    return study.prepare(root / "shipped", WORLD, profile, quick=quick), profile


def section(quick: bool) -> dict[str, Any]:
    """The example pipeline's alignment settings (``--quick``: a few steps of a tiny policy)."""
    from bench.optimum import QUICK
    from pro.testing import study

    base = study.example_alignment()
    return study.merge(base, QUICK) if quick else base


def weights_text(w: dict[str, float]) -> str:
    return "/".join(f"{v:.2f}" for v in w.values())
