"""``pro stage`` and ``pro weights`` CLI: light help, spec errors with path+line (before any heavy import),
baselines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pro.cli import main
from pro.data import DataError
from pro.errors import PERMANENT_EXIT, UserError
from pro.runs import transient
from pro.store import StoreError

pytestmark = pytest.mark.unit


def test_stage_help_loads_no_torch() -> None:
    code = (
        "import sys\nfrom pro.cli import main\n"
        "try:\n    main(['stage', '--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['weights', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "reward" in proc.stdout and "--adapter" in proc.stdout


def test_stage_spec_error_is_one_line_with_path_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "rm.yaml"
    spec.write_text(
        "kind: RewardModelTraining\nmetadata: {name: x}\nspec:\n  objective: a\n  output: o\n  tau: 1\n"
    )
    assert main(["stage", "reward", "--spec", str(spec)]) == PERMANENT_EXIT  # no retry can fix a spec
    err = capsys.readouterr().err
    assert f"{spec}:6: spec.tau: unknown field" in err
    assert f"{spec}:3: spec.data: required field is missing" in err
    assert "Traceback" not in err


def test_weights_cli_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("first prompt\nsecond prompt\n")
    assert main(["weights", "--uniform", "--objectives", "a,b", "--prompts", str(prompts)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows == [{"prompt": "first prompt", "weights": {"a": 0.5, "b": 0.5}},
                    {"prompt": "second prompt", "weights": {"a": 0.5, "b": 0.5}}]  # fmt: skip
    out = tmp_path / "w.jsonl"
    assert main(["weights", "--fixed", "a=3,b=1", "--prompts", str(prompts), "--out", str(out)]) == 0
    assert json.loads(out.read_text().splitlines()[1])["weights"] == {"a": 0.75, "b": 0.25}
    assert main(["weights", "--uniform", "--prompts", str(prompts)]) == 1
    assert "--uniform needs --objectives" in capsys.readouterr().err


def test_a_stage_whose_data_file_is_missing_fails_for_good_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "rm.yaml"
    spec.write_text(
        "apiVersion: pro.alignment.dev/v1alpha1\nkind: RewardModelTraining\nmetadata: {name: x}\nspec:\n"
        f"  objective: a\n  data: {{format: jsonl, path: {tmp_path / 'gone.jsonl'}}}\n"
        "  model: {name: some/model}\n  output: o\n"
    )
    assert main(["stage", "reward", "--spec", str(spec)]) == PERMANENT_EXIT
    assert capsys.readouterr().err == f"error: spec.data.path: {tmp_path / 'gone.jsonl'}: no such file\n"


def test_a_bad_spec_or_missing_data_fails_before_the_stage_imports_its_libraries(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: RewardModelTraining\nmetadata: {name: x}\nspec:\n  objective: a\n  output: o\n")
    no_data = tmp_path / "no-data.yaml"
    no_data.write_text(
        "apiVersion: pro.alignment.dev/v1alpha1\nkind: RewardModelTraining\nmetadata: {name: x}\nspec:\n"
        f"  objective: a\n  data: {{format: jsonl, path: {tmp_path / 'gone.jsonl'}}}\n"
        "  model: {name: some/model}\n  output: o\n"
    )
    code = (
        "import sys\nfrom pro.cli import main\n"
        f"codes = [main(['stage', 'reward', '-f', {str(bad)!r}]), main(['stage', 'reward', '-f', {str(no_data)!r}])]\n"
        "print(codes, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split("\n")[-2] == f"[{PERMANENT_EXIT}, {PERMANENT_EXIT}] False", (
        proc.stdout + proc.stderr
    )


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (UserError("a spec"), True),
        (DataError("x.jsonl:3: invalid JSON"), True),
        (StoreError("s3://b/k: connection refused", transient=True), False),  # the store says which
        (StoreError("s3://b/k: AccessDenied"), True),
    ],
)
def test_which_user_errors_are_permanent(error: UserError, permanent: bool) -> None:
    assert transient(error) is not permanent
    error.transient = permanent  # type: ignore[attr-defined]  # an error may say otherwise
    assert transient(error) is permanent


def test_a_stage_files_relative_paths_are_its_directorys_but_not_in_a_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.cli.stage import paths_base

    spec = tmp_path / "specs" / "rm.yaml"
    spec.parent.mkdir()
    example = (Path(__file__).resolve().parents[3] / "examples/toy/reward-humor.yaml").read_text()
    spec.write_text(example.replace("toy-out/pairs/humor.jsonl", "../data/humor.jsonl"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["stage", "reward", "-f", str(spec)]) == PERMANENT_EXIT
    assert f"spec.data.path: {tmp_path}/data/humor.jsonl: no such file" in capsys.readouterr().err
    assert paths_base(str(spec)) == str(spec.parent)
    assert paths_base("/etc/pro/stage.yaml") is None  # the operator's mount: the pod's own paths
