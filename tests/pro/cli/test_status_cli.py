"""``pro status`` and ``pro validate`` at 80 columns: names, states and counts whole, long lists wrapped or cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.cli import main
from pro.runner.state import StateFile

pytestmark = pytest.mark.unit


def test_status_fits_80_columns_keeping_names_and_states_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long = "2 attempt(s); last: exit code 1: OSError: Repo id must be in the form 'repo_name' " * 3
    stages = [
        {"name": "rm-helpfulness", "phase": "Succeeded", "attempts": 1, "seconds": 9.0, "message": ""},
        {"name": "rm-humor", "phase": "Failed", "attempts": 2, "seconds": 17.0, "message": long},
        {"name": "align-baseline", "phase": "Blocked", "attempts": 0, "message": "needs rm-humor"},
        {"name": "rm-harmlessness", "phase": "Running", "attempts": 1, "seconds": 3.0, "message": "",
         "progress": {"step": 12, "total": 600, "phase": "training"}},
    ]  # fmt: skip
    StateFile(tmp_path, "first", "default").write("Failed", stages)
    assert main(["status", "--run-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "pipeline first (run default): Failed, not running"
    table = lines[2:-1]
    assert table[0].split() == ["STAGE", "STATE", "ATTEMPTS", "TIME", "PROGRESS", "MESSAGE"]
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"rm-helpfulness", "rm-humor", "align-baseline", "rm-harmlessness"}
    assert rows["rm-humor"].split()[1:4] == ["Failed", "2", "17s"] and rows["rm-humor"].endswith("…")
    assert rows["align-baseline"].split()[1:4] == ["Blocked", "-", "-"]
    assert "12/600 training" in rows["rm-harmlessness"]


def test_validate_lists_the_stages_within_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    example = Path(__file__).resolve().parents[3] / "examples" / "production" / "pipeline-ultrafeedback.yaml"
    assert main(["validate", "-f", str(example), "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines[1:-1]), "\n".join(lines)
    said = " ".join(" ".join(lines).split())
    needs = "rm-helpfulness, rm-honesty, rm-instruction-following, rm-truthfulness, adapter"
    assert f"align PolicyAlignment needs {needs}" in said  # wrapped, nothing lost
