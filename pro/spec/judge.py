"""Judges: what decides which of two completions is better (the evaluation stage and the promotion gate)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pro.spec.base import SpecModel
from pro.spec.rules import SubPath, problems_at


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
        bad: list[tuple[SubPath, str]] = []
        if self.kind == "world" and not self.world:
            bad.append((("world",), "judge kind 'world' needs 'world' (a toy-world directory)"))
        if self.kind == "rewardModel" and not self.uri:
            bad.append((("uri",), "judge kind 'rewardModel' needs 'uri' (a reward-model artifact)"))
        for field, kind in (("world", "world"), ("uri", "rewardModel")):
            if self.kind != kind and getattr(self, field) is not None:
                bad.append(
                    ((field,), f"applies only to kind {kind!r} (kind is {self.kind!r}, which ignores it)")
                )
        if bad:
            raise problems_at("Judge", bad)
        return self


__all__ = ["Judge"]
