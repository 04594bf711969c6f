"""The policy card (``policy.json``): what a policy artifact needs to be used again — its objectives, its
method, the weights it was trained with and, for PRO-WIC, how the weights are written into the prompt.

One model, written by :func:`pro.align.policy.save_policy` and read by :func:`pro.align.policy.load_policy`.
Both key sets written before the card was a model (MORLHF's ``objectives, method, weights,
promptFormat``; WIC's adds ``template, tau``) are exactly its fields, so older artifacts read unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from pro.errors import UserError
from pro.spec.align import PolicyAlignmentSpec, WeightSettings
from pro.spec.base import SpecModel

POLICY_FILE = "policy.json"
#: how a policy's prompt text is put together (``tags``: WIC's weight tags), for readers of the card
PROMPT_FORMATS = {"morlhf": "{prompt} [SEP]", "wic": "{tags}{prompt} [SEP]"}


class PolicyCard(SpecModel):
    """``policy.json`` of a policy artifact."""

    model_config = ConfigDict(extra="ignore")  # newer writers may add fields; readers need these

    objectives: list[str] = Field(min_length=1)
    """The K objectives, in the order of every weight vector."""
    method: Literal["morlhf", "wic"]
    """How the policy was aligned; a WIC policy reads its weights from the prompt."""
    weights: WeightSettings
    """The weights it was trained with (a WIC policy's default at generation time)."""
    template: str | None = None
    """WIC: the weight-tag template (``{objective}``, ``{weight}``)."""
    tau: float | None = Field(default=None, gt=0)
    """WIC: the temperature of the offline targets ``softmax(z / tau)``."""
    prompt_format: str = ""
    """The policy's prompt text, for people and other tools."""
    temperature: float | None = Field(default=None, gt=0)
    """The sampling temperature it was trained at (an evaluation samples at it; absent in older cards)."""

    @model_validator(mode="after")
    def _wic_template(self) -> PolicyCard:
        if self.method == "wic" and not self.template:
            raise ValueError("a WIC policy needs 'template'")
        return self

    @classmethod
    def of(cls, spec: PolicyAlignmentSpec, *, tau: float | None = None) -> PolicyCard:
        """The card of a policy aligned by ``spec`` (``tau``: WIC's target temperature)."""
        wic = spec.method == "wic"
        return cls(
            objectives=list(spec.objectives),
            method=spec.method,
            weights=spec.weights,
            template=spec.wic.template if wic else None,
            tau=tau if wic else None,
            prompt_format=PROMPT_FORMATS[spec.method],
            temperature=spec.generation.temperature,
        )

    @property
    def reads_weights(self) -> bool:
        """Whether the policy's prompts carry per-prompt weights (WIC)."""
        return self.method == "wic"

    def write(self, directory: Path) -> Path:
        path = directory / POLICY_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, directory: Path) -> PolicyCard | None:
        """The card of a policy directory (None when it has none)."""
        path = directory / POLICY_FILE
        if not path.exists():
            return None
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except ValueError as err:  # bad JSON, or a ValidationError
            raise UserError(f"{path}: not a policy card: {_first_problem(err)}") from None


def _first_problem(err: ValueError) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where: Sequence[object] = first["loc"]
        return f"{'.'.join(str(x) for x in where) or '(top)'}: {first['msg']}"
    return str(err)


__all__ = ["POLICY_FILE", "PolicyCard"]
