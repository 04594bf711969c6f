"""The toy-world spec: objectives, prompt categories with hidden weights, response segments and scoring.

A toy world is a small synthetic preference world with a known answer. See ``docs/toy-world.md``.
Load one with :func:`load_world`: schema problems and cross-field problems (unknown objective names,
markers missing from texts, ...) are all reported at once, each with its YAML path and line.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from pydantic import Field

from pro.spec.base import SpecModel
from pro.spec.loader import (
    Loc,
    SpecError,
    SpecProblem,
    _line_for,
    format_path,
    load_text,
    parse,
    read_document,
)

#: objective, category, segment and slot names: lower-case words (objective names become file names)
IDENT = r"^[a-z][a-z0-9_-]*$"


class Sizes(SpecModel):
    """How many records of each kind the generator writes."""

    pairs_per_objective: int = Field(default=3000, ge=1)
    """Training pairs per objective (``pairs/<objective>.jsonl``)."""
    test_pairs_per_objective: int = Field(default=500, ge=1)
    """Held-out pairs per objective (``pairs/<objective>.test.jsonl``)."""
    mixed_pairs: int = Field(default=1500, ge=1)
    """Mixed preference pairs (``mixed.jsonl``), chosen by the hidden utility."""
    mixed_test_pairs: int = Field(default=300, ge=1)
    """Mixed pairs on test prompts (``mixed.test.jsonl``)."""
    sft: int = Field(default=1000, ge=1)
    """Prompt/completion examples of the starting-policy corpus (``sft.jsonl``)."""
    heldout: int = Field(default=300, ge=1)
    """Distinct held-out evaluation prompts (``heldout.jsonl``)."""


class Splits(SpecModel):
    """How each category's prompt pool is split; the three parts are disjoint."""

    test_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    """Share of each category's prompts kept for the test files (pairs tests, ``mixed.test.jsonl``)."""
    heldout_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    """Share of each category's prompts kept for ``heldout.jsonl`` (never in any training file)."""


class LengthPenalty(SpecModel):
    """A per-token cost on long responses, per objective."""

    free_tokens: int = Field(default=30, ge=0)
    """Tokens a response may have before the penalty starts."""
    per_token: dict[str, float] = Field(default_factory=dict)
    """Objective → score subtracted per token beyond ``freeTokens`` (objectives not named: no penalty)."""


class Segment(SpecModel):
    """A kind of response segment (an answer, a disclaimer, a joke, filler ...) and how it scores."""

    name: str = Field(pattern=IDENT)
    """Segment name (unique)."""
    group: str | None = Field(default=None, pattern=IDENT)
    """Segments of one group are exclusive: a generated response holds at most one of them
    (e.g. a good answer, a vague answer or a refusal). Unset: the segment is its own group."""
    markers: list[str] = Field(min_length=1)
    """Words or phrases that identify the segment in any text (whole words, case-insensitive).
    Every text of this segment must contain one; no text of another segment may contain one."""
    texts: list[str] = Field(min_length=1)
    """Variants of the segment's text; the generator picks one at random."""
    effects: dict[str, float] = Field(default_factory=dict)
    """Objective → score added when the segment is present (objectives not named: 0)."""
    category_effects: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Category → objective → score that *replaces* ``effects[objective]`` for prompts of that
    category: this is where objectives conflict (a disclaimer helps on risky prompts only)."""


class Category(SpecModel):
    """A category of prompts: how its prompts read, and the hidden trade-off its users want."""

    name: str = Field(pattern=IDENT)
    """Category name (unique)."""
    weights: dict[str, float]
    """Objective → hidden weight (≥ 0, one per objective, normalised to sum 1). The largest must be
    unique: it is the category's dominant objective."""
    share: float = Field(default=1.0, gt=0)
    """Relative share of this category's prompts in every generated file."""
    templates: list[str] = Field(min_length=1)
    """Prompt templates; ``{slot}`` is replaced by a filler of that slot."""
    slots: dict[str, list[str]] = Field(default_factory=dict)
    """Slot name → fillers. Use category-specific words so the category is visible in the prompt."""


class ToyWorld(SpecModel):
    """A toy preference world with a hidden, known answer (``pro toy generate --spec FILE``)."""

    name: str = Field(default="toy", pattern=IDENT)
    """Name of the world (recorded in summary.json)."""
    seed: int = 0
    """Seed of every random choice: the same spec and seed give byte-identical outputs."""
    objectives: list[str] = Field(min_length=1)
    """The K objective names (K ≥ 1), in order; lower-case words, used as file names."""
    categories: list[Category] = Field(min_length=2)
    """Prompt categories with their hidden weight profiles."""
    segments: list[Segment] = Field(min_length=1)
    """Response segment kinds and their per-objective scoring rules."""
    length_penalty: LengthPenalty = Field(default_factory=LengthPenalty)
    """Per-token cost of long responses."""
    sizes: Sizes = Field(default_factory=Sizes)
    """Number of records per output file."""
    splits: Splits = Field(default_factory=Splits)
    """Disjoint train/test/held-out split of the prompt pool."""
    pair_min_margin: float = Field(default=0.5, ge=0)
    """Per-objective pairs keep only responses whose true scores differ by at least this much."""
    mixed_top_k: int = Field(default=1, ge=1)
    """Mixed pairs: one candidate is drawn from the K best segment combinations under the prompt's
    hidden weights (a good policy sample), the other uniformly; the higher utility is chosen."""

    def problems(self) -> list[tuple[Loc, str]]:
        """Cross-field problems, each with the YAML path it concerns (empty: the world is valid)."""
        out: list[tuple[Loc, str]] = []
        objectives = set(self.objectives)
        for i, name in enumerate(self.objectives):
            if not re.match(IDENT, name):
                out.append((("objectives", i), f"objective names must match {IDENT}, got {name!r}"))
            if name in self.objectives[:i]:
                out.append((("objectives", i), f"duplicate objective {name!r}"))
        cat_names = [c.name for c in self.categories]
        for i, cat in enumerate(self.categories):
            loc: Loc = ("categories", i)
            if cat.name in cat_names[:i]:
                out.append(((*loc, "name"), f"duplicate category {cat.name!r}"))
            missing = [o for o in self.objectives if o not in cat.weights]
            if missing:
                out.append(((*loc, "weights"), f"missing weight for {', '.join(missing)}"))
            for key, value in cat.weights.items():
                if key not in objectives:
                    out.append(((*loc, "weights", key), _unknown("objective", key, self.objectives)))
                elif value < 0:
                    out.append(((*loc, "weights", key), f"weights must be ≥ 0, got {value}"))
            values = sorted((cat.weights.get(o, 0.0) for o in self.objectives), reverse=True)
            if not missing and values[0] <= 0:
                out.append(((*loc, "weights"), "at least one weight must be > 0"))
            elif not missing and len(values) > 1 and values[0] == values[1]:
                out.append(((*loc, "weights"), "the largest weight must be unique (the dominant objective)"))
            for j, template in enumerate(cat.templates):
                for slot in _template_slots(template, (*loc, "templates", j), out):
                    if slot not in cat.slots:
                        out.append(((*loc, "templates", j), f"slot {{{slot}}} has no fillers in 'slots'"))
            for slot, fillers in cat.slots.items():
                if not fillers:
                    out.append(((*loc, "slots", slot), "needs at least one filler"))
        seg_names = [s.name for s in self.segments]
        for i, seg in enumerate(self.segments):
            loc = ("segments", i)
            if seg.name in seg_names[:i]:
                out.append(((*loc, "name"), f"duplicate segment {seg.name!r}"))
            for key in seg.effects:
                if key not in objectives:
                    out.append(((*loc, "effects", key), _unknown("objective", key, self.objectives)))
            for cat_name, effects in seg.category_effects.items():
                if cat_name not in cat_names:
                    out.append(
                        ((*loc, "categoryEffects", cat_name), _unknown("category", cat_name, cat_names))
                    )
                for key in effects:
                    if key not in objectives:
                        out.append(
                            (
                                (*loc, "categoryEffects", cat_name, key),
                                _unknown("objective", key, self.objectives),
                            )
                        )
            for j, text in enumerate(seg.texts):
                if not any(marker_in(m, text) for m in seg.markers):
                    out.append(((*loc, "texts", j), f"contains none of the segment's markers {seg.markers}"))
                for other in self.segments:
                    if other is seg:
                        continue
                    clash = [m for m in other.markers if marker_in(m, text)]
                    if clash:
                        out.append(
                            ((*loc, "texts", j), f"contains marker {clash[0]!r} of segment {other.name!r}")
                        )
        for key in self.length_penalty.per_token:
            if key not in objectives:
                out.append((("lengthPenalty", "perToken", key), _unknown("objective", key, self.objectives)))
        return out


def _unknown(kind: str, name: str, allowed: list[str]) -> str:
    return f"unknown {kind} {name!r} (allowed: {', '.join(allowed)})"


def _template_slots(template: str, loc: Loc, out: list[tuple[Loc, str]]) -> list[str]:
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as err:
        out.append((loc, f"invalid template: {err}"))
        return []


def marker_in(marker: str, text: str) -> bool:
    """Whether ``marker`` occurs in ``text`` as whole words, ignoring case."""
    pattern = r"(?<![a-z0-9])" + re.escape(marker.lower()) + r"(?![a-z0-9])"
    return re.search(pattern, text.lower()) is not None


def check_world(world: ToyWorld, source: str = "<world>", lines: dict[Loc, int] | None = None) -> ToyWorld:
    """Raise :class:`SpecError` listing every cross-field problem of ``world``."""
    problems = world.problems()
    if problems:
        raise SpecError(
            source,
            [SpecProblem(format_path(loc), msg, _line_for(loc, lines or {})) for loc, msg in problems],
        )
    return world


def load_world(path: str | Path) -> ToyWorld:
    """Read, validate and cross-check a world spec file; every problem carries its path and line."""
    doc = read_document(path)
    return check_world(parse(ToyWorld, doc), doc.source, doc.lines)


def world_from_data(data: Any, source: str = "<world>") -> ToyWorld:
    """Validate and cross-check a world given as plain data."""
    import yaml

    doc = load_text(yaml.safe_dump(data, sort_keys=False), source)
    return check_world(parse(ToyWorld, doc), source, doc.lines)
