"""The pairwise judge's plumbing on a tiny config-built causal LM: position swap, ties, batching, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pro.errors import UserError

pytestmark = pytest.mark.ml

PROMPTS = ["how do i bake bread ?", "tell me a joke .", "is it safe to swim alone ?", "fix a tire ?"]
A = ["step one : mix flour .", "haha , a bulldozer !", "be careful .", "maybe try it ."]
B = ["maybe .", "sorry , i cannot help .", "step one : jump .", "step one : read the manual and then work ."]


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pro.testing.judge_models import build_judge_lm

    return build_judge_lm(tmp_path_factory.mktemp("judge") / "lm", PROMPTS + A + B)


def test_verdicts_from_both_orders() -> None:
    from pro.eval.pairwise import verdicts

    # P(first better) with A first, with B first
    first_a = np.array([0.9, 0.9, 0.1, 0.2, 0.5])
    first_b = np.array([0.1, 0.8, 0.9, 0.3, 0.1])
    assert list(verdicts(first_a, first_b)) == [1.0, 0.5, 0.0, 0.5, 0.5]


def test_the_judge_swaps_positions_ties_identical_answers_and_batches(judge_dir: Path) -> None:
    from pro.eval.judges import load_judge
    from pro.eval.pairwise import PairwiseJudge
    from pro.spec.judge import Judge

    judge = PairwiseJudge.load(str(judge_dir), None)
    batched = judge.preference(PROMPTS, A, B)
    one_by_one = judge.preference_one_by_one(PROMPTS, A, B)
    assert np.allclose(batched, one_by_one, atol=1e-5) and ((batched > 0) & (batched < 1)).all()
    # the same answer in both places: whatever the position bias, the two orders disagree -> a tie
    assert list(judge.wins(PROMPTS, A, A)) == [0.5] * len(PROMPTS)
    wins = judge.wins(PROMPTS, A, B)
    assert set(wins) <= {0.0, 0.5, 1.0}
    assert np.array_equal(judge.wins(PROMPTS, B, A), 1.0 - wins)  # swapping A and B swaps the verdicts
    loaded = load_judge(Judge(kind="pairwise", uri=str(judge_dir), batch_size=2))
    assert not loaded.pointwise and np.array_equal(loaded.wins(PROMPTS, A, B), wins)
    text = judge.prompt_text("q?", "first answer", "second answer")
    assert (
        text.startswith("<|system|>")
        and text.endswith("<|assistant|> ")
        and '"output": "first answer"' in text
    )


def test_a_judge_without_a_chat_template_or_that_cannot_load_is_one_line(tmp_path: Path) -> None:
    from pro.eval.judges import load_judge
    from pro.spec.judge import Judge
    from pro.testing.judge_models import build_judge_lm

    plain = build_judge_lm(tmp_path / "plain", PROMPTS, chat_template=False)
    with pytest.raises(UserError, match="the pairwise judge needs a chat template; its tokenizer has none"):
        load_judge(Judge(kind="pairwise", uri=str(plain)))
    with pytest.raises(UserError, match=r"^judge.uri: .*nowhere") as err:
        load_judge(Judge(kind="pairwise", uri=str(tmp_path / "nowhere")))
    assert "\n" not in str(err.value)
    broken = tmp_path / "broken-rm"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(UserError, match=r"^judge.uri: cannot load reward model '.*broken-rm'"):
        load_judge(Judge(kind="rewardModel", uri=str(broken)))
    with pytest.raises(UserError, match=r"^judge.world: .*cannot load the toy world"):
        load_judge(Judge(kind="world", world=str(tmp_path / "no-world")))
