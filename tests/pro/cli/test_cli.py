"""The ``pro`` command line: help, unknown verbs, light start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pro.cli import VERBS, main

pytestmark = pytest.mark.unit


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert f"  {verb.name} " in out
    assert 'Use "pro <command> --help"' in out


def test_no_arguments_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "Usage:" in capsys.readouterr().out


def test_unknown_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fly"]) == 2
    assert 'unknown command "fly"' in capsys.readouterr().err


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["version", "-o", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["pro-pipeline"] and found["pydantic"]


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from pro.cli import main; main(['--help']); "
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'kopf', 'boto3') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_console_script_and_module_entry_agree() -> None:
    """``python -m pro`` (the form torchrun uses) behaves like the ``pro`` script."""
    run = subprocess.run([sys.executable, "-m", "pro", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("pro ")
