"""The operator imports in an environment without the ML stack (its slim image)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ML_STACK = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed", "matplotlib")
#: not in the operator image either: the operator's client is pro_operator.kube (JSON over urllib3)
BLOCKED = (*ML_STACK, "kubernetes")

BLOCKER = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ImportError('blocked for the slim-image test: ' + name)
sys.meta_path.insert(0, Block())
import pro_operator
for mod in pkgutil.walk_packages(pro_operator.__path__, 'pro_operator.'):
    if mod.name != 'pro_operator.__main__':
        importlib.import_module(mod.name)
print('ok', pro_operator.__version__)
"""


def test_operator_imports_without_ml_stack_or_the_kubernetes_package() -> None:
    run = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok ")


@pytest.mark.parametrize("module", ["torch", "kubernetes.client"])
def test_blocker_really_blocks(module: str) -> None:
    """The check above would catch such an import (the blocker is not a no-op)."""
    code = BLOCKER.replace("import pro_operator\n", f"import {module}\nimport pro_operator\n", 1)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (
        run.returncode != 0
        and f"blocked for the slim-image test: {module.split('.', maxsplit=1)[0]}" in run.stderr
    )


def test_operator_requirements_are_a_subset_of_the_project(repo_root: Path) -> None:
    import tomllib

    deps = set(tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"])
    slim = [
        line.strip()
        for line in (repo_root / "requirements" / "operator.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert slim and not [req for req in slim if req not in deps]
    assert not [req for req in slim if req.split(">")[0].split("=")[0].split("<")[0] in ML_STACK]
