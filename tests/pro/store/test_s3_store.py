"""The store against a real S3-protocol server (moto, own process) through boto3 over HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from pro.store import (
    StoreConfig,
    StoreError,
    artifact_exists,
    delete_artifact,
    get_artifact,
    list_artifacts,
    put_artifact,
    read_manifest,
    verify_artifact,
)
from pro.testing.s3server import S3Server, free_port

from .conftest import PRODUCER, SPEC, make_tree

pytestmark = pytest.mark.integration


def _keys(bucket: str) -> list[str]:
    resp = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def test_round_trip_with_endpoint_from_env_only(
    s3_bucket: str, src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    uri = f"s3://{s3_bucket}/ns/pipe/run1/rm"
    m = put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert _keys(s3_bucket) == [
        f"ns/pipe/run1/rm/{k}"
        for k in (".pro-upload.json", "config.json", "manifest.json", "model-00001.bin", "sub/tok.txt")
    ]
    assert read_manifest(uri, config=cfg) == m and artifact_exists(uri, config=cfg)
    assert verify_artifact(uri, config=cfg) == []
    out = get_artifact(uri, tmp_path / "dst", config=cfg)
    assert all((out / f.path).read_bytes() == (src / f.path).read_bytes() for f in m.files)
    put_artifact(src, f"s3://{s3_bucket}/ns/pipe/run1/pal", producer=PRODUCER, work_digest=SPEC, config=cfg)
    listed = list_artifacts(f"s3://{s3_bucket}/ns/pipe", config=cfg)
    assert [u for u, _ in listed] == [f"s3://{s3_bucket}/ns/pipe/run1/pal", uri]
    delete_artifact(uri, config=cfg)
    assert not artifact_exists(uri, config=cfg)
    assert all(k.startswith("ns/pipe/run1/pal/") for k in _keys(s3_bucket))


def test_multipart_files_and_explicit_endpoint(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "big", {"shard-1.bin": 12 * 2**20 + 3, "shard-2.bin": 6 * 2**20})
    for var in ("AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")  # the explicit setting wins
    cfg = StoreConfig(
        endpoint_url=s3_server.endpoint_url,
        region="us-east-1",
        addressing_style="path",
        multipart_threshold_mb=5,
        multipart_chunksize_mb=5,
        max_concurrency=4,
        cache_dir=tmp_path / "cache",
    )
    uri = f"s3://{s3_bucket}/big"
    m = put_artifact(tmp_path / "big", uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    assert client.head_object(Bucket=s3_bucket, Key="big/shard-1.bin")["ETag"].strip('"').endswith("-3")
    out = get_artifact(uri, config=cfg)
    assert (out / "shard-1.bin").read_bytes() == (tmp_path / "big/shard-1.bin").read_bytes()
    assert out.name == m.digest


def test_endpoint_from_service_specific_variable(
    s3_server: S3Server, s3_bucket: str, src: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)  # boto3: the S3-specific one wins
    put_artifact(src, f"s3://{s3_bucket}/x", producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert artifact_exists(f"s3://{s3_bucket}/x", config=cfg)


def test_second_get_is_free(s3_bucket: str, src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    uri = f"s3://{s3_bucket}/a"
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    get_artifact(uri, tmp_path / "d1", config=cfg)
    boto3.client("s3").delete_object(Bucket=s3_bucket, Key="a/model-00001.bin")  # would fail a download
    get_artifact(uri, tmp_path / "d2", config=cfg)
    assert (tmp_path / "d2/model-00001.bin").read_bytes() == (src / "model-00001.bin").read_bytes()


def test_retry_skips_files_already_uploaded(
    s3_bucket: str, src: Path, cfg: StoreConfig, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"s3://{s3_bucket}/r"
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=s3_bucket, Key="r/manifest.json")  # as if killed before the commit …
    s3.put_object(Bucket=s3_bucket, Key="r/.pro-upload.json", Body=b"{}")  # … with nothing journalled
    assert not artifact_exists(uri, config=cfg)
    with caplog.at_level("INFO", logger="pro.store"):
        put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert "3 files uploaded" in caplog.text  # no journal entry, no proof: everything again
    (src / "sub/tok.txt").write_text("changed")
    caplog.clear()
    with caplog.at_level("INFO", logger="pro.store"):
        put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert "1 files uploaded" in caplog.text and "2 skipped" in caplog.text
    assert verify_artifact(uri, config=cfg) == []


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_object_fails_get_and_verify_and_put_repairs_it(
    damage: str, s3_bucket: str, src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    uri = f"s3://{s3_bucket}/d"
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    data = (src / "model-00001.bin").read_bytes()
    bad = data[:-1] + bytes([data[-1] ^ 0xFF]) if damage == "corrupt" else data[: len(data) // 2]
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="d/model-00001.bin", Body=bad)
    problems = verify_artifact(uri, config=cfg)
    assert len(problems) == 1 and problems[0].startswith("model-00001.bin: ")
    with pytest.raises(StoreError, match=r"damaged: model-00001\.bin"):
        get_artifact(uri, tmp_path / "dst", config=cfg)
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)  # put repairs it
    assert verify_artifact(uri, config=cfg) == []


def test_missing_bucket_and_unreachable_endpoint(
    s3_env: dict[str, str], src: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        StoreError, match=r"bucket 'no-such-bucket' does not exist at http://127\.0\.0\.1:\d+: create it"
    ):
        put_artifact(src, "s3://no-such-bucket/x", producer=PRODUCER, work_digest=SPEC, config=cfg)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    cfg.endpoint_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=r"cannot reach the S3 endpoint .* check --endpoint-url"):
        get_artifact("s3://bucket/x", config=cfg)


@pytest.fixture(scope="module")
def authed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A second moto server that checks credentials, as AWS does."""
    log = tmp_path_factory.mktemp("moto-auth") / "moto.log"
    with S3Server(log_path=log, env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as server:
        yield server


def test_wrong_credentials_say_so_without_the_secret(
    authed_server: S3Server,
    s3_env: dict[str, str],
    src: Path,
    cfg: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", authed_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-do-not-print")
    with pytest.raises(StoreError) as exc:
        put_artifact(src, "s3://bucket/x", producer=PRODUCER, work_digest=SPEC, config=cfg)
    msg = str(exc.value)
    assert "access denied (InvalidAccessKeyId)" in msg and "AWS_ACCESS_KEY_ID" in msg
    assert "s3cr3t" not in msg and "\n" not in msg
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StoreError, match="no AWS credentials found"):
        read_manifest("s3://bucket/x", config=cfg)


def test_errors_say_whether_a_retry_can_help(
    s3_env: dict[str, str], src: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StoreError, match="does not exist") as missing:
        put_artifact(src, "s3://no-such-bucket/x", producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert not missing.value.transient
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    cfg.endpoint_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="cannot reach") as unreachable:
        read_manifest("s3://bucket/x", config=cfg)
    assert unreachable.value.transient


def test_an_endpoint_url_with_credentials_is_never_echoed(
    s3_env: dict[str, str],
    cfg: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    cfg.endpoint_url = f"http://alice:pa55w0rd@127.0.0.1:{free_port()}"
    with caplog.at_level("DEBUG", logger="pro.store"), pytest.raises(StoreError) as err:
        get_artifact("s3://bucket/x", config=cfg)
    assert "cannot reach the S3 endpoint http://***@127.0.0.1:" in str(err.value)
    assert "pa55w0rd" not in str(err.value) and "alice" not in str(err.value)
    assert "pa55w0rd" not in caplog.text


def test_an_oversized_manifest_is_refused_without_downloading_it(
    s3_bucket: str, cfg: StoreConfig, s3_server: S3Server
) -> None:
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="huge/manifest.json", Body=b" " * 100_000)
    with pytest.raises(StoreError, match=r"manifest\.json is 100000 bytes, over the limit of 1000 bytes"):
        read_manifest(f"s3://{s3_bucket}/huge", config=cfg, max_bytes=1000)


def test_a_file_and_a_directory_of_one_name_fail_get_with_one_line(
    s3_bucket: str, src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    uri = f"s3://{s3_bucket}/clash"
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    s3 = boto3.client("s3")
    manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key="clash/manifest.json")["Body"].read())
    entry = manifest["files"][0]
    manifest["files"].append({**entry, "path": "config.json/inner"})  # S3 holds both keys happily
    s3.put_object(Bucket=s3_bucket, Key="clash/config.json/inner", Body=(src / "config.json").read_bytes())
    s3.put_object(Bucket=s3_bucket, Key="clash/manifest.json", Body=json.dumps(manifest).encode())
    with pytest.raises(
        StoreError, match=r"invalid manifest\.json .*'config\.json' is a file and a directory"
    ):
        get_artifact(uri, tmp_path / "dst", config=cfg)


def test_a_file_changing_while_it_is_uploaded_is_refused(
    s3_bucket: str, src: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.store import s3

    real = s3.hash_file

    def hash_then_touch(path: Path) -> tuple[str, int]:
        got = real(path)
        if path.name == "model-00001.bin":  # another writer, same size, other bytes
            with path.open("r+b") as f:
                f.write(b"\0" * 10)
        return got

    monkeypatch.setattr(s3, "hash_file", hash_then_touch)
    uri = f"s3://{s3_bucket}/moving"
    with pytest.raises(StoreError, match=r"model-00001\.bin changed while it was uploaded") as err:
        put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert err.value.transient and not artifact_exists(uri, config=cfg)
    monkeypatch.setattr(s3, "hash_file", real)
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert verify_artifact(uri, config=cfg) == []
