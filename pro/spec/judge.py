"""Judges: what decides which of two completions is better (the evaluation stage and the promotion gate)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pro.spec.base import SpecModel


class Judge(SpecModel):
    """What decides which of two completions is better."""

    kind: Literal["world", "rewardModel"] = "world"
    """``world``: the toy world's hidden true utility; ``rewardModel``: a judge reward model."""
    world: str | None = None
    """Toy-world directory (``kind: world``)."""
    uri: str | None = None
    """Judge reward-model artifact URI (``kind: rewardModel``)."""

    @model_validator(mode="after")
    def _check(self) -> Judge:
        if self.kind == "world" and not self.world:
            raise ValueError("judge kind 'world' needs 'world' (a toy-world directory)")
        if self.kind == "rewardModel" and not self.uri:
            raise ValueError("judge kind 'rewardModel' needs 'uri' (a reward-model artifact)")
        return self


__all__ = ["Judge"]
