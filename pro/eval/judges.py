"""A :class:`~pro.spec.judge.Judge` loaded: one interface for the comparison and the promotion gate.

Every judge answers :meth:`LoadedJudge.wins` — per row 1 (A better), ½ (tie) or 0 — for two lists of
completions to the same prompts.  A pointwise judge (``world``, ``rewardModel``) also has
:meth:`LoadedJudge.score`; its wins are its scores compared (:func:`pro.eval.gate.row_wins`).  A pairwise
judge only compares (:mod:`pro.eval.pairwise`).  A judge that cannot be loaded fails with one line naming
its field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pro.errors import UserError
from pro.eval.gate import row_wins
from pro.spec.judge import Judge

if TYPE_CHECKING:
    from pro.toy import World

#: the longest pairwise judge prompt unless ``judge.maxLength`` says otherwise
PAIRWISE_MAX_LENGTH = 2048
#: ``(prompts, completions) -> scores`` (a pointwise judge)
Score = Callable[[Sequence[str], Sequence[str]], np.ndarray]
#: ``(prompts, completions A, completions B) -> per-row wins of A``
Compare = Callable[[Sequence[str], Sequence[str], Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class LoadedJudge:
    """A judge ready to use."""

    spec: Judge
    scorer: Score | None
    """Pointwise judges: the score of each completion."""
    comparer: Compare | None = None
    """Pairwise judges: the wins of A over B."""
    world: World | None = None
    """The toy world (``kind: world``): its optimum and true per-objective scores."""

    @property
    def pointwise(self) -> bool:
        return self.scorer is not None

    def score(self, prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        if self.scorer is None:
            raise TypeError("a pairwise judge has no per-completion score")
        return np.asarray(self.scorer(prompts, texts), dtype=np.float64)

    def wins(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Per row: 1 when A's completion is better, ½ for a tie, 0 otherwise."""
        if self.comparer is not None:
            return np.asarray(self.comparer(prompts, a, b), dtype=np.float64)
        return row_wins(self.score(prompts, a), self.score(prompts, b))


def _world(spec: Judge) -> LoadedJudge:
    from pro.toy import World

    assert spec.world is not None
    try:
        world = World.load(spec.world)
    except (OSError, UserError) as err:
        raise UserError(
            f"judge.world: {spec.world}: cannot load the toy world: {str(err).splitlines()[0]}"
        ) from None

    def by_world(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        return np.asarray([world.utility(p, t) for p, t in zip(prompts, texts, strict=True)])

    return LoadedJudge(spec, by_world, world=world)


def _reward_model(spec: Judge) -> LoadedJudge:
    from pro.models.reward import RewardScorer

    field, source = ("uri", spec.uri) if spec.uri else ("model", spec.model)
    assert source is not None
    try:
        where: Any = source
        if spec.uri:
            from pro.store import local_artifact

            where = local_artifact(spec.uri, "config.json")
        scorer = RewardScorer.load(where, revision=spec.revision, max_length=spec.max_length)
    except (OSError, ValueError, UserError) as err:
        raise UserError(
            f"judge.{field}: cannot load reward model {source!r}: {str(err).splitlines()[0]}"
        ) from None

    def by_rm(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        return scorer.score(prompts, texts, batch_size=spec.batch_size).astype(np.float64)

    return LoadedJudge(spec, by_rm)


def _pairwise(spec: Judge) -> LoadedJudge:
    from pro.eval.pairwise import PairwiseJudge

    judge = PairwiseJudge.load(spec.uri, spec.model, revision=spec.revision, batch_size=spec.batch_size,
                               max_length=spec.max_length or PAIRWISE_MAX_LENGTH)  # fmt: skip
    return LoadedJudge(spec, None, comparer=judge.wins)


def load_judge(spec: Judge) -> LoadedJudge:
    """Load ``spec``'s model (or world); a failure is one line naming the field."""
    if spec.kind == "world":
        return _world(spec)
    if spec.kind == "rewardModel":
        return _reward_model(spec)
    return _pairwise(spec)


__all__ = ["Compare", "LoadedJudge", "Score", "load_judge"]
