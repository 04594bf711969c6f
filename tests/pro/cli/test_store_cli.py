"""``pro store``: round trips, verification failures, one-line errors, and a killed upload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from pro.cli import main
from pro.testing.s3server import S3Server, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRO_CACHE_DIR", str(tmp_path / "cache"))


def _tree(root: Path, n: int, size: int) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"shard-{i:02d}.bin").write_bytes(os.urandom(size))
    return root


def test_put_ls_get_verify_rm_on_s3(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tree(tmp_path / "src", 3, 1000)
    uri = f"s3://{s3_bucket}/runs/r1/rm"
    assert main(["store", "put", str(src), uri, "--kind", "RewardModelTraining", "--name", "rm"]) == 0
    out = capsys.readouterr()
    assert f"committed {uri}: 3 files" in out.out and "3 files uploaded" in out.err
    assert main(["store", "ls", f"s3://{s3_bucket}/runs"]) == 0
    assert "RewardModelTraining/rm" in capsys.readouterr().out
    assert main(["store", "get", uri, str(tmp_path / "dst"), "--no-progress"]) == 0
    assert (tmp_path / "dst/shard-01.bin").read_bytes() == (src / "shard-01.bin").read_bytes()
    assert main(["store", "verify", uri]) == 0
    assert main(["store", "rm", uri]) == 0
    capsys.readouterr()
    assert main(["store", "ls", f"s3://{s3_bucket}/runs"]) == 0
    assert "no artifacts under" in capsys.readouterr().out


def test_verify_lists_the_bad_files_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _tree(tmp_path / "src", 3, 1000)
    art = tmp_path / "art"
    assert main(["store", "put", str(src), f"file://{art}"]) == 0
    (art / "shard-02.bin").write_bytes(b"short")
    (art / "shard-00.bin").unlink()
    capsys.readouterr()
    assert main(["store", "verify", str(art)]) == 1
    err = capsys.readouterr().err
    assert "failed verification (2 bad)" in err
    assert "  shard-00.bin: missing" in err and "  shard-02.bin: size 5, manifest says 1000" in err
    assert main(["store", "get", str(art), str(tmp_path / "dst")]) == 1
    assert "shard-00.bin: missing" in capsys.readouterr().err


def _pro(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pro", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=60,
    )


@pytest.fixture(scope="module")
def authed_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with S3Server(
        log_path=tmp_path_factory.mktemp("moto") / "m.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    ) as s:
        yield s


def test_expected_failures_print_one_line_without_traceback(
    s3_env: dict[str, str], authed_server: S3Server, tmp_path: Path
) -> None:
    src = _tree(tmp_path / "src", 1, 10)
    cases = {
        "does not exist": ({}, ["store", "put", str(src), "s3://no-such-bucket/x"]),
        "cannot reach the S3 endpoint": (
            {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"},
            ["store", "get", "s3://bucket/x", str(tmp_path / "d")],
        ),
        "access denied (InvalidAccessKeyId)": (
            {"AWS_ENDPOINT_URL": authed_server.endpoint_url, "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
            ["store", "ls", "s3://bucket/x"],
        ),
        "no artifact at": ({}, ["store", "get", str(tmp_path / "nothing"), str(tmp_path / "d")]),
    }
    for expected, (extra, args) in cases.items():
        proc = _pro(*args, env={**os.environ, **extra})
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1, proc.stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr and "s3cr3t" not in proc.stderr


_SLOW_PUT = """
import sys, time
from s3transfer.utils import ReadFileChunk
read = ReadFileChunk.read
def slow(self, amount=None):
    time.sleep(0.1)
    return read(self, amount)
ReadFileChunk.read = slow
from pro.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_upload_leaves_no_manifest_and_retry_skips_done_files(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tree(tmp_path / "src", 16, 64 * 1024)
    uri = f"s3://{s3_bucket}/run/stage"
    s3 = boto3.client("s3")
    args = ["store", "put", str(src), uri, "--max-concurrency", "2"]
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_PUT, *args], stderr=subprocess.PIPE)
    journal: dict[str, object] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            journal = json.loads(
                s3.get_object(Bucket=s3_bucket, Key="run/stage/.pro-upload.json")["Body"].read()
            )
        except s3.exceptions.NoSuchKey:
            time.sleep(0.02)
            continue
        break
    assert proc.poll() is None, "the upload finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="run/stage/").get("Contents", [])]
    shards = [k for k in keys if k.endswith(".bin")]
    assert "run/stage/manifest.json" not in keys and 1 <= len(shards) < 16
    assert main(["store", "verify", uri]) == 1

    capsys.readouterr()
    assert main(["store", "put", str(src), uri]) == 0
    err = capsys.readouterr().err
    skipped = int(err.split(" skipped")[0].rsplit(", ", 1)[1])
    uploaded = int(err.split(" files uploaded")[0].rsplit(": ", 1)[1])
    assert skipped >= len(journal["files"]) >= 1  # type: ignore[arg-type]
    assert uploaded + skipped == 16 and uploaded < 16
    assert main(["store", "verify", uri]) == 0


def test_rm_never_leaves_the_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _tree(tmp_path / "src", 2, 100)
    victim = _tree(tmp_path / "victim", 1, 10)
    art = tmp_path / "a" / "b" / "art"
    assert main(["store", "put", str(src), str(art)]) == 0
    journal = json.loads((art / ".pro-upload.json").read_text())
    journal["files"]["../../../victim/shard-00.bin"] = {"size": 10, "sha256": "0" * 64, "etag": "x"}
    (art / ".pro-upload.json").write_text(json.dumps(journal))
    assert main(["store", "rm", str(art)]) == 0
    assert (victim / "shard-00.bin").is_file() and not (art / "shard-00.bin").exists()
    capsys.readouterr()
    proc = _pro("store", "--help")
    assert proc.returncode == 0 and "put" in proc.stdout
