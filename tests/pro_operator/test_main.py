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
        (
            [
                "-n",
                "a",
                "--leader-elect",
                "--leader-elect-lease-duration",
                "10",
                "--leader-elect-resource-namespace",
                "x",
            ],
            "leader election: the lease duration (10 s) must be longer than the renew deadline (10 s)",
        ),
        (
            [
                "-n",
                "a",
                "--leader-elect",
                "--leader-elect-retry-period",
                "9",
                "--leader-elect-resource-namespace",
                "x",
            ],
            "leader election: the renew deadline (10 s) must be longer than 1.2 × the retry period (9 s)",
        ),
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
    assert not args.leader_elect  # one replica acting alone unless asked (the chart asks)
    timing = (
        args.leader_elect_lease_duration,
        args.leader_elect_renew_deadline,
        args.leader_elect_retry_period,
    )
    assert timing == (15, 10, 2) and args.leader_elect_resource_name == "pro-operator-leader"


def test_leader_election_needs_the_leases_namespace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pro_operator.__main__ as entry

    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setattr(entry, "SERVICE_ACCOUNT_NAMESPACE", "/nonexistent/namespace")
    with pytest.raises(SystemExit) as exit_:
        main(["-n", "a", "--leader-elect"])
    assert exit_.value.code == 2
    assert (
        "--leader-elect needs the Lease's namespace: --leader-elect-resource-namespace, $POD_NAMESPACE"
        in (capsys.readouterr().err)
    )
    monkeypatch.setenv("POD_NAMESPACE", "pro-system")
    assert entry.own_namespace() == "pro-system"


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
