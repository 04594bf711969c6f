"""``pro eval`` argument errors: one line, no traceback, no torch for --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_eval_needs_policies_or_spec(capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    assert main(["eval", "--policy-a", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: without -f FILE") and "--policy-b" in err and "Traceback" not in err


def test_eval_needs_a_judge(capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    main(["eval", "--policy-a", "x", "--policy-b", "y", "--prompts", "p", "--out", "o"])
    assert "a judge is required" in capsys.readouterr().err


@pytest.mark.parametrize(("old", "new"), [("--a", "--policy-a"), ("--b", "--policy-b")])
def test_eval_old_flags_name_their_new_names(old: str, new: str, capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["eval", old, "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"error: {old} is now {new}" in err and "Traceback" not in err


def test_eval_spec_file_flag_spellings(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """-f, --filename (kubectl's) and --spec (pro stage's older spelling) name the same file."""
    from pro.cli import _BY_NAME, build_parser

    parser = build_parser(_BY_NAME["eval"])
    for flag in ("-f", "--filename", "--spec"):
        assert parser.parse_args([flag, "e.yaml"]).spec == "e.yaml"


def test_eval_spec_errors_name_file_and_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from pro.cli import main

    spec = tmp_path / "eval.yaml"
    spec.write_text("apiVersion: pro.alignment.dev/v1alpha1\nkind: PolicyEvaluation\nmetadata: {name: e}\n"
                    "spec:\n  policyA: {name: a, uri: x}\n  policyB: {name: b, uri: y}\n  prompts: p.jsonl\n"
                    "  judge: {kind: world}\n  output: o\n")  # fmt: skip
    assert main(["eval", "-f", str(spec)]) != 0
    err = capsys.readouterr().err
    assert "eval.yaml:8" in err and "needs 'world'" in err


def test_eval_and_generate_help_load_no_torch() -> None:
    code = (
        "import sys\nfrom pro.cli import build_parser, _BY_NAME\n"
        "for v in ('eval', 'generate', 'stage'):\n    build_parser(_BY_NAME[v]).format_help()\n"
        "assert 'torch' not in sys.modules, 'torch loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
