"""Judges: what decides which of two completions is better (the evaluation stage and the promotion gate)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pro.spec.base import SpecModel
from pro.spec.paths import ModelName, PathRef
from pro.spec.rules import SubPath, problems_at

JudgeKind = Literal["world", "rewardModel", "pairwise"]


class Judge(SpecModel):
    """What decides which of two completions is better."""

    kind: JudgeKind = "world"
    """``world``: the toy world's hidden true utility (and its exact optimum); ``rewardModel``: any
    sequence-classification reward model scores each completion (the higher wins); ``pairwise``: a causal
    LM with a chat template is shown both completions (AlpacaEval 2's ranking prompt) in both orders — A
    wins when both orders prefer it, a disagreement is a tie."""
    world: PathRef | None = None
    """Toy-world directory (``kind: world``)."""
    uri: PathRef | None = None
    """The judge model as an artifact URI (``rewardModel``: a reward-model artifact; ``pairwise``: any
    saved causal LM)."""
    model: ModelName | None = None
    """The judge model as a hub id, pulled where the stage runs (``rewardModel`` or ``pairwise``, instead
    of ``uri``); a reward model without this project's ``stats.json`` is shown each completion as a
    user/assistant conversation through its chat template."""
    revision: str | None = None
    """Hub revision of ``model``."""
    batch_size: int = Field(default=16, ge=1)
    """Pairs (or completions) per forward pass."""
    max_length: int | None = Field(default=None, ge=16)
    """Longest judge input in tokens; default: a reward-model artifact's own (its ``stats.json``), else
    512 for a reward model and 2048 for a pairwise judge (whose prompt is cut from the left, keeping the
    question)."""

    @model_validator(mode="after")
    def _check(self) -> Judge:
        bad: list[tuple[SubPath, str]] = []
        if self.kind == "world":
            if not self.world:
                bad.append((("world",), "judge kind 'world' needs 'world' (a toy-world directory)"))
            for field in ("uri", "model", "revision"):
                if getattr(self, field) is not None:
                    bad.append(
                        (
                            (field,),
                            "applies only to kinds 'rewardModel' and 'pairwise' (kind 'world' ignores it)",
                        )
                    )
        else:
            what = "a reward model" if self.kind == "rewardModel" else "a causal LM with a chat template"
            if not self.uri and not self.model:
                bad.append(
                    (
                        ("uri",),
                        f"judge kind {self.kind!r} needs 'uri' (an artifact) or 'model' (a hub id): {what}",
                    )
                )
            elif self.uri and self.model:
                bad.append((("model",), "give 'uri' (an artifact) or 'model' (a hub id), not both"))
            if self.world is not None:
                bad.append(
                    (("world",), f"applies only to kind 'world' (kind is {self.kind!r}, which ignores it)")
                )
            if self.revision is not None and self.model is None:
                bad.append((("revision",), "applies only with 'model' (a hub id)"))
        if bad:
            raise problems_at("Judge", bad)
        return self

    @property
    def source(self) -> str:
        """The judge's model (or world) as written in the spec."""
        return self.world or self.uri or self.model or ""

    @property
    def pointwise(self) -> bool:
        """Whether the judge scores each completion on its own (``world``, ``rewardModel``)."""
        return self.kind != "pairwise"


__all__ = ["Judge", "JudgeKind"]
