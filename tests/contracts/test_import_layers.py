"""The import contracts hold on the tree, and each fails when violated: the pure core importing an I/O
library, a package of ``pro`` importing a layer above it (or not being placed in the stack at all), and
an import cycle — between packages of one layer or between the modules of one package."""

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
    ("files", "contracts", "named"),
    [
        ({"pro/spec/_violation.py": "import boto3\n"}, ("pure core",), "_violation"),
        ({"pro/spec/_violation.py": "from kubernetes import client\n"}, ("pure core",), "_violation"),
        ({"operator/pro_operator/_violation.py": "import torch\n"}, ("slim image",), "_violation"),
        # an algorithm reaching up into a stage (what pro.align.wic did before)
        ({"pro/align/_violation.py": "from pro.stages import runtime\n"}, ("pro is layered", "No import cycles"), "_violation"),
        ({"pro/stages/_violation.py": "import pro.runner\n"}, ("pro is layered", "No import cycles"), "_violation"),
        # the store reaching up into models (which fetch artifacts through the store: a cycle too)
        ({"pro/store/_violation.py": "import pro.models.reward\n"}, ("pro is layered", "No import cycles"), "_violation"),
        # a new package nobody placed in the stack
        ({"pro/newpkg/__init__.py": ""}, ("pro is layered",), "pro.newpkg"),
        # a cycle between two packages of the algorithms layer (which may import each other)
        ({"pro/weights/_violation.py": "import pro.align.rewards\n"}, ("No import cycles",), ".weights"),
        # a cycle between two modules of one package
        (
            {"pro/align/_violation.py": "from pro.align import _violation_b\n",
             "pro/align/_violation_b.py": "from pro.align import _violation\n"},
            ("No import cycles",),
            "_violation",
        ),
    ],
    ids=["spec-boto3", "spec-kubernetes", "operator-torch", "align-stages", "stages-runner", "store-models",
         "unplaced-package", "cycle-between-packages", "cycle-within-package"],
)  # fmt: skip
def test_contracts_fail_when_violated(
    repo_root: Path, tmp_path: Path, files: dict[str, str], contracts: tuple[str, ...], named: str
) -> None:
    root = copy_tree(repo_root, tmp_path)
    for module, text in files.items():
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).write_text(text)
    result = lint(root)
    assert result.returncode == 1, result.stdout
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert named in broken and all(c in broken for c in contracts), result.stdout
    assert result.stdout.count("BROKEN") == len(contracts), result.stdout  # and no other contract
