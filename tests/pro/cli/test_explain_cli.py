"""``pro explain``: kinds by any of their names, fields, and errors that help."""

from __future__ import annotations

import pytest

from pro.cli import main
from pro.spec.kinds import KINDS

pytestmark = pytest.mark.unit


def test_lists_kinds_like_api_resources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    for kind in KINDS:
        assert f"{kind.plural:<24}{kind.short:<12}" in out


@pytest.mark.parametrize(
    "word", ["rmt", "RewardModelTraining", "rewardmodeltrainings", "REWARDMODELTRAINING"]
)
def test_every_name_of_a_kind_resolves(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", f"{word}.spec"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("KIND:     RewardModelTraining\n")
    assert "objective\t<string> -required-" in out


def test_every_kind_model_loads_and_explains() -> None:
    from pro.spec.explain import explain

    for kind in KINDS:
        assert explain(kind.model(), kind.name, ["spec"]).startswith(f"KIND:     {kind.name}")


def test_unknown_kind_and_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "nope"]) == 1
    assert 'doesn\'t have a resource type "nope"' in capsys.readouterr().err
    assert main(["explain", "adt.spec.taux"]) == 1
    assert "did you mean 'tau'?" in capsys.readouterr().err
