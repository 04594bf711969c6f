"""``pro toy generate``: summary table, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.cli import main

pytestmark = pytest.mark.unit

WORLD2 = Path(__file__).resolve().parents[1] / "toy" / "fixtures" / "world2.yaml"


def test_generate_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["toy", "generate", "--spec", str(WORLD2), "--out", str(tmp_path / "w"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "pairs/accuracy.jsonl" in out and "heldout.jsonl" in out and "seed 3" in out
    assert (tmp_path / "w" / "truth.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["toy"], "missing action"),
        (["toy", "generate", "--spec", "absent.yaml", "--out", "OUT"], "absent.yaml: no such file"),
        (
            ["toy", "generate", "--spec", "BAD", "--out", "OUT"],
            "BAD:4: objectives[0]: objective names must match",
        ),
        (["toy", "generate", "--spec", str(WORLD2), "--out", "BLOCK/sub"], "cannot write"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(WORLD2.read_text().replace("[accuracy, politeness]", "[Accuracy, politeness]"))
    (tmp_path / "block").write_text("x")
    subst = {"BAD": str(bad), "OUT": str(tmp_path / "o"), "BLOCK/sub": str(tmp_path / "block" / "sub")}
    argv = [subst.get(a, a) for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert message.replace("BAD", str(bad)) in err
