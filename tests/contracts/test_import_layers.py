"""The import-layer contracts hold, and they fail when the pure core imports an I/O library."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'operator'}"}
    return subprocess.run(
        [LINT_IMPORTS, str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def copy_tree(repo_root: Path, dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(repo_root / "pro", dst / "pro", ignore=ignore)
    shutil.copytree(repo_root / "operator", dst / "operator", ignore=ignore)
    shutil.copy(repo_root / "pyproject.toml", dst / "pyproject.toml")
    return dst


def test_contracts_hold_on_the_tree(repo_root: Path, tmp_path: Path) -> None:
    result = lint(copy_tree(repo_root, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("pro/spec/_violation.py", "import boto3\n", "pure core"),
        ("pro/spec/_violation.py", "from kubernetes import client\n", "pure core"),
        ("operator/pro_operator/_violation.py", "import torch\n", "slim image"),
    ],
)
def test_contracts_fail_when_violated(
    repo_root: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = copy_tree(repo_root, tmp_path)
    (root / module).write_text(line)
    result = lint(root)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout and contract in result.stdout
    assert "_violation" in result.stdout
