"""``pro generate`` argument errors (the happy path runs in tests/pro/align/test_wic_and_generate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.unit
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--temperature", "-1"], "--temperature must be ≥ 0"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be ≥ 1"),
    ],
)
def test_bad_sampling_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    from pro.cli import main

    p = tmp_path / "p.txt"
    p.write_text("hello\n")
    assert main(["generate", "--policy", "x", "--prompts", str(p), *extra]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.unit
def test_missing_prompt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    assert main(["generate", "--policy", "x", "--prompts", str(tmp_path / "none.txt")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.mark.ml
def test_missing_policy_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    p = tmp_path / "p.txt"
    p.write_text("hello\n")
    assert main(["generate", "--policy", str(tmp_path / "nopolicy"), "--prompts", str(p)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nopolicy" in err and "Traceback" not in err
