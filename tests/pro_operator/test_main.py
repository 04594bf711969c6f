"""``pro-operator``'s command line: bad worker counts are refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro_operator.__main__ import build_parser, main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-n", "a", "--workers", "0"], "--workers must be at least 1, got 0"),
        (
            ["-n", "a", "--admission-workers", "0"],
            "--admission-workers must be between 1 and --workers (4), got 0",
        ),
        (["-n", "a", "--workers", "2", "--admission-workers", "3"], "between 1 and --workers (2), got 3"),
    ],
)
def test_bad_worker_counts_exit_2_naming_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults() -> None:
    args = build_parser().parse_args(["-A"])
    assert args.workers == 4 and args.admission_workers is None and args.all_namespaces


def test_no_credentials_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", "")  # restored afterwards (main sets it from --kubeconfig)
    missing = tmp_path / "kubeconfig"
    assert main(["-n", "a", "--kubeconfig", str(missing), "--metrics-port", "0", "--health-port", "0"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"pro-operator: cannot log in to the Kubernetes API: kubeconfig {missing}: FileNotFoundError: "
        f"[Errno 2] No such file or directory: '{missing}'\n"
    )
