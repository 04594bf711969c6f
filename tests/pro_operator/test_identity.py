"""The operator starts under a UID with no passwd entry (the chart's 65532 on a slim image, OpenShift's
arbitrary UIDs): its peering identity never asks the passwd database."""

from __future__ import annotations

import getpass
import os
import textwrap
from pathlib import Path

import pytest

from pro.testing.operator import Cluster
from pro_operator.identity import own_identity
from tests.pro_operator.conftest import job_names, small_pipeline

#: makes this interpreter behave as a process whose UID has no /etc/passwd entry
NO_PASSWD_ENTRY = textwrap.dedent(
    """
    import os, pwd
    def _getpwuid(uid, _real=pwd.getpwuid):
        if uid == os.getuid():
            raise KeyError(f"getpwuid(): uid not found: {uid}")
        return _real(uid)
    pwd.getpwuid = _getpwuid
    """
)


def _no_passwd_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "no-passwd"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_PASSWD_ENTRY)
    # getpass.getuser() reads these first; empty is unset to it (the image sets none of them); the code
    # under test stays on the path
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "USER": "", "LOGNAME": "", "LNAME": "", "USERNAME": ""}


@pytest.mark.unit
def test_identity_needs_no_passwd_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME", "POD_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    with pytest.raises(KeyError):
        getpass.getuser()  # what kopf's default identity calls
    first, second = own_identity(), own_identity()
    assert first != second and first.rsplit("_", 1)[0] == second.rsplit("_", 1)[0]
    monkeypatch.setenv("POD_NAME", "pro-pipeline-7d9f-abcde")
    assert own_identity().startswith("pro-pipeline-7d9f-abcde_")


@pytest.fixture
def operator_env(tmp_path: Path) -> dict[str, str]:
    return _no_passwd_env(tmp_path)


@pytest.mark.integration
def test_the_operator_runs_under_a_uid_with_no_passwd_entry(cluster: Cluster, toy: Path) -> None:
    """Without the fix kopf dies at start: ``KeyError: 'getpwuid(): uid not found'``."""
    cluster.create("alignmentpipelines", small_pipeline(cluster, toy, "nouser"))
    cluster.wait("the first job", lambda: job_names(cluster), 120)
    assert cluster.operator.alive()
    assert "getpwuid" not in cluster.operator.log.read_text()
