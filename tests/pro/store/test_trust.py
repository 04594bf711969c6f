"""Nothing corrupt or foreign is ever used: confinement of local stores, put repairing what it finds,
cache hits checked by content, bounded manifest reads, odd sources, and errors that say whether a retry
can help (issue #18, store items)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from pro.store import (
    Manifest,
    StoreConfig,
    StoreError,
    delete_artifact,
    get_artifact,
    put_artifact,
    read_manifest,
    verify_artifact,
)
from pro.store.uri import parse_uri

from .conftest import PRODUCER, SPEC, make_tree

pytestmark = pytest.mark.unit


# ----------------------------------------------------------------------------- 1. rm stays inside


def test_rm_ignores_journal_names_that_leave_the_artifact(
    src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    victim = make_tree(tmp_path / "victim", {"keep.txt": 10})
    store = tmp_path / "a" / "b" / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    journal = store / ".pro-upload.json"
    entries = json.loads(journal.read_text())
    entries["files"]["../../../victim/keep.txt"] = {"size": 10, "sha256": "0" * 64, "etag": "x"}
    journal.write_text(json.dumps(entries))
    delete_artifact(str(store), config=cfg)
    assert (victim / "keep.txt").is_file()
    assert not (store / "config.json").exists()


def test_rm_does_not_follow_a_symlinked_directory(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    victim = make_tree(tmp_path / "victim", {"tok.txt": 7})
    store = tmp_path / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    (store / "sub" / "tok.txt").unlink()
    (store / "sub").rmdir()
    (store / "sub").symlink_to(victim)  # the manifest still names sub/tok.txt
    with pytest.raises(StoreError, match=r"sub/tok\.txt.*symlink"):
        delete_artifact(str(store), config=cfg)
    assert (victim / "tok.txt").is_file()
    assert not (store / "config.json").exists() and not (store / "manifest.json").exists()


def test_get_and_verify_do_not_read_through_symlinks(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    store = tmp_path / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    outside = tmp_path / "outside.json"
    outside.write_bytes((store / "config.json").read_bytes())
    (store / "config.json").unlink()
    (store / "config.json").symlink_to(outside)  # same bytes, but not in the store
    assert verify_artifact(str(store), config=cfg) == ["config.json: missing"]
    with pytest.raises(StoreError, match=r"config\.json: missing"):
        get_artifact(str(store), config=cfg)


# ----------------------------------------------------------------------------- 2. put repairs


def test_put_rewrites_a_manifest_that_differs(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    store = tmp_path / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    text = json.loads((store / "manifest.json").read_text())
    text["files"][0]["sha256"] = "f" * 64  # the manifest is damaged, the files are fine
    (store / "manifest.json").write_text(json.dumps(text))
    assert verify_artifact(str(store), config=cfg) != []
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert verify_artifact(str(store), config=cfg) == []


def test_put_records_a_new_work_digest(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    store = str(tmp_path / "store")
    put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    m = put_artifact(src, store, producer=PRODUCER, work_digest="cd" * 32, config=cfg)
    assert m.work_digest == "cd" * 32
    assert read_manifest(store, config=cfg).work_digest == "cd" * 32  # type: ignore[union-attr]


def test_a_file_growing_while_put_copies_it_is_refused(
    src: Path, tmp_path: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.store import api

    real = api._scan

    def scan_then_grow(root: Path) -> list:  # type: ignore[type-arg]
        items = real(root)
        with (root / "config.json").open("ab") as f:
            f.write(b"x" * 27)  # the producer is still writing
        return items

    monkeypatch.setattr(api, "_scan", scan_then_grow)
    store = str(tmp_path / "store")
    with pytest.raises(StoreError, match=r"config\.json changed size while") as err:
        put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert err.value.transient
    assert read_manifest(store, config=cfg) is None
    monkeypatch.setattr(api, "_scan", real)
    put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)  # once it is complete
    assert verify_artifact(store, config=cfg) == []


# ----------------------------------------------------------------------------- 3. the cache


def test_a_cached_file_changed_in_place_is_not_served(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    store = str(tmp_path / "store")
    put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    d1 = get_artifact(store, tmp_path / "d1", config=cfg)
    victim = d1 / "model-00001.bin"
    victim.chmod(0o644)
    with victim.open("r+b") as f:  # same size, other bytes
        f.write(b"\0" * 1000)
    d2 = get_artifact(store, tmp_path / "d2", config=cfg)
    assert (d2 / "model-00001.bin").read_bytes() == (src / "model-00001.bin").read_bytes()
    entry = get_artifact(store, config=cfg)
    assert (entry / "model-00001.bin").read_bytes() == (src / "model-00001.bin").read_bytes()


def test_a_pre_created_cache_entry_is_checked_by_content(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    store = str(tmp_path / "store")
    m = put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    forged = cfg.resolved_cache_dir() / m.digest
    for f in m.files:  # right names and sizes, wrong bytes, committed like a real entry
        make_tree(forged, {f.path: f.size})
    (forged / "manifest.json").write_text(m.to_json())
    out = get_artifact(store, tmp_path / "dst", config=cfg)
    assert all((out / f.path).read_bytes() == (src / f.path).read_bytes() for f in m.files)


def test_a_shared_cache_is_copied_from_not_linked(src: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    shared.chmod(0o1777)  # others may write here
    cfg = StoreConfig(cache_dir=shared, max_concurrency=2)
    store = str(tmp_path / "store")
    put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    out = get_artifact(store, tmp_path / "dst", config=cfg)
    assert os.stat(out / "model-00001.bin").st_nlink == 1


def test_a_private_cache_is_created_private(src: Path, tmp_path: Path) -> None:
    cfg = StoreConfig(cache_dir=tmp_path / "new" / "cache", max_concurrency=2)
    store = str(tmp_path / "store")
    put_artifact(src, store, producer=PRODUCER, work_digest=SPEC, config=cfg)
    get_artifact(store, config=cfg)
    assert (tmp_path / "new/cache").stat().st_mode & 0o077 == 0


# ----------------------------------------------------------------------------- 4. bounded manifests


def test_an_oversized_manifest_is_refused_without_reading_it(tmp_path: Path, cfg: StoreConfig) -> None:
    art = tmp_path / "huge"
    art.mkdir()
    (art / "manifest.json").write_bytes(b" " * 5000)
    with pytest.raises(StoreError, match=r"manifest\.json is 5000 bytes, over the limit of 4096") as err:
        read_manifest(str(art), config=cfg, max_bytes=4096)
    assert not err.value.transient
    from pro.store.manifest import MANIFEST_MAX_BYTES

    assert MANIFEST_MAX_BYTES <= 64 * 2**20


def test_put_refuses_to_commit_a_manifest_no_reader_accepts(
    tmp_path: Path, cfg: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.store import api

    monkeypatch.setattr(api, "MANIFEST_MAX_BYTES", 300)
    src = make_tree(tmp_path / "src", {f"f{i}.bin": 1 for i in range(5)})
    with pytest.raises(StoreError, match=r"manifest .* over the limit of 300 bytes"):
        put_artifact(src, str(tmp_path / "store"), producer=PRODUCER, work_digest=SPEC, config=cfg)


# ----------------------------------------------------------------------------- 5. put's edge cases


def test_a_symlink_loop_in_the_source_is_one_clear_error(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    (src / "sub" / "loop").symlink_to(src / "sub")
    with pytest.raises(StoreError, match=r"sub/loop: symlink loop"):
        put_artifact(src, str(tmp_path / "store"), producer=PRODUCER, work_digest=SPEC, config=cfg)
    (src / "sub" / "loop").unlink()
    (src / "sub" / "self").symlink_to("self")
    with pytest.raises(StoreError, match=r"sub/self: .*symlink"):
        put_artifact(src, str(tmp_path / "store"), producer=PRODUCER, work_digest=SPEC, config=cfg)


def test_symlinks_out_of_the_source_are_refused(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the store")
    (src / "leak.txt").symlink_to(secret)
    with pytest.raises(StoreError, match=r"leak\.txt: a symlink to .*secret\.txt, outside"):
        put_artifact(src, str(tmp_path / "store"), producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert not (tmp_path / "store" / "leak.txt").exists()


def test_symlinks_inside_the_source_are_stored_as_files(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    (src / "alias.bin").symlink_to("model-00001.bin")
    (src / "sub2").symlink_to("sub")
    m = put_artifact(src, str(tmp_path / "store"), producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert {"alias.bin", "sub2/tok.txt"} <= {f.path for f in m.files}
    out = get_artifact(str(tmp_path / "store"), tmp_path / "dst", config=cfg)
    assert (out / "alias.bin").read_bytes() == (src / "model-00001.bin").read_bytes()
    assert not (out / "alias.bin").is_symlink()


@pytest.mark.parametrize(
    "files",
    [
        {"config.json": "x"},
        {"config.json": {"size": "big", "sha256": 3, "etag": None}},
        {"../escape": {"size": 1, "sha256": "0" * 64, "etag": "e"}},
        {"": {"size": 1, "sha256": "0" * 64, "etag": "e"}},
        ["ab", "cd"],
    ],
)
def test_a_malformed_journal_entry_breaks_neither_put_nor_rm(
    files: object, src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    store = tmp_path / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    (store / ".pro-upload.json").write_text(json.dumps({"files": files}))
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert verify_artifact(str(store), config=cfg) == []
    (store / ".pro-upload.json").write_text(json.dumps({"files": files}))
    delete_artifact(str(store), config=cfg)
    assert not (store / "manifest.json").exists() and not (store / "config.json").exists()


def test_a_manifest_with_a_file_and_a_directory_of_one_name_is_invalid() -> None:
    entry = {"size": 1, "sha256": "0" * 64}
    text = json.dumps(
        {
            "format": "pro.artifact/v1",
            "producer": {"kind": "K", "name": "n"},
            "workDigest": "",
            "version": "0",
            "created": "t",
            "files": [{"path": "a", **entry}, {"path": "a/b", **entry}],
        }
    )
    with pytest.raises(ValueError, match=r"'a' is a file and a directory"):
        Manifest.from_json(text)


def test_get_names_an_invalid_manifest(tmp_path: Path, cfg: StoreConfig) -> None:
    art = tmp_path / "art"
    art.mkdir()
    (art / "manifest.json").write_text('{"format": "pro.artifact/v1", "files": []}')
    with pytest.raises(StoreError, match=r"invalid manifest\.json .*'producer'") as err:
        get_artifact(str(art), config=cfg)
    assert not err.value.transient


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "uri",
    ["file://alice:pa55w0rd@host/x", "gs://alice:pa55w0rd@bucket/x", "s3://alice:pa55w0rd@bucket/x"],
)
def test_uri_errors_never_echo_credentials(uri: str) -> None:
    with pytest.raises(StoreError) as err:
        parse_uri(uri)
    assert "pa55w0rd" not in str(err.value) and "alice" not in str(err.value)
    assert not err.value.transient


def test_store_logs_never_echo_credentials(
    src: Path, tmp_path: Path, cfg: StoreConfig, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    put_artifact(src, str(store), producer=PRODUCER, work_digest=SPEC, config=cfg)
    log = logging.getLogger("pro.store")
    with caplog.at_level("INFO", logger="pro.store"):
        log.info("put %s: done", "http://alice:pa55w0rd@minio:9000/x")
        log.warning("endpoint http://bob:hunter2@h/ failed")
    assert "pa55w0rd" not in caplog.text and "hunter2" not in caplog.text and "minio:9000" in caplog.text


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("InternalError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("SlowDown", 503, True),
        ("Throttling", 400, True),
        ("RequestTimeout", 400, True),
        ("NoSuchBucket", 404, False),
        ("AccessDenied", 403, False),
        ("InvalidArgument", 400, False),
    ],
)
def test_s3_errors_are_classified_where_they_are_raised(code: str, status: int, transient: bool) -> None:
    import botocore.exceptions as bce

    from pro.store.s3 import s3_errors

    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    with pytest.raises(StoreError) as err, s3_errors("s3://b/x", "http://k:s3cret@h:9000", "read"):
        raise bce.ClientError(response, "GetObject")  # type: ignore[arg-type]
    assert err.value.transient is transient
    assert "s3cret" not in str(err.value)


def test_the_transient_flag_survives_pickling() -> None:
    import pickle

    from pro.store.errors import PreconditionFailed

    back = pickle.loads(pickle.dumps(StoreError("endpoint http://u:p@h down", transient=True)))
    assert back.transient and str(back) == "endpoint http://***@h down"
    assert pickle.loads(pickle.dumps(PreconditionFailed("lost"))).transient
