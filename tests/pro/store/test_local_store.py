"""The store on local directories (file:// and plain paths): protocol, cache, faults."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pro.store import (
    StoreConfig,
    StoreError,
    artifact_exists,
    delete_artifact,
    get_artifact,
    list_artifacts,
    local_artifact,
    put_artifact,
    read_manifest,
    verify_artifact,
)
from pro.version import __version__

from .conftest import PRODUCER, SPEC

pytestmark = pytest.mark.unit


def test_round_trip_file_uri(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    uri = f"file://{tmp_path}/store/run1/rm"
    m = put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert [f.path for f in m.files] == ["config.json", "model-00001.bin", "sub/tok.txt"]
    assert (m.producer, m.work_digest, m.version) == (PRODUCER, SPEC, __version__)
    assert m.created.endswith("Z")
    stored = json.loads((tmp_path / "store/run1/rm/manifest.json").read_text())
    assert stored["files"][1]["size"] == 300_000 and len(stored["files"][1]["sha256"]) == 64
    assert read_manifest(uri, config=cfg) == m and artifact_exists(uri, config=cfg)
    assert verify_artifact(uri, config=cfg) == []

    out = get_artifact(uri, tmp_path / "dst", config=cfg)
    for f in m.files:
        assert (out / f.path).read_bytes() == (src / f.path).read_bytes()
    cached = get_artifact(str(tmp_path / "store/run1/rm"), config=cfg)  # plain path, same artifact
    assert cached == cfg.cache_dir / m.digest  # type: ignore[operator]
    assert [u for u, _ in list_artifacts(f"file://{tmp_path}/store", config=cfg)] == [uri]


def test_second_get_is_served_from_the_cache(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    uri = str(tmp_path / "store")
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    get_artifact(uri, tmp_path / "d1", config=cfg)
    (tmp_path / "store/model-00001.bin").unlink()  # the store is no longer read
    get_artifact(uri, tmp_path / "d2", config=cfg)
    assert (tmp_path / "d2/model-00001.bin").read_bytes() == (src / "model-00001.bin").read_bytes()


def test_concurrent_gets_share_one_cache_entry(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    uri = str(tmp_path / "store")
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(get_artifact(uri, config=cfg))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 6
    assert [p.name for p in cfg.cache_dir.iterdir() if not p.name.startswith(".")] == [results[0].name]  # type: ignore[union-attr]


def test_put_is_idempotent_and_skips_present_files(
    src: Path, tmp_path: Path, cfg: StoreConfig, caplog: pytest.LogCaptureFixture
) -> None:
    uri = str(tmp_path / "store")
    m1 = put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    with caplog.at_level("INFO", logger="pro.store"):
        assert put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg) == m1
    assert "nothing to do" in caplog.text
    (src / "config.json").write_bytes(b"{}")
    caplog.clear()
    with caplog.at_level("INFO", logger="pro.store"):
        m2 = put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert "1 files uploaded" in caplog.text and "2 skipped" in caplog.text
    assert m2.digest != m1.digest and verify_artifact(uri, config=cfg) == []


def test_interrupted_upload_leaves_no_manifest_and_resumes(
    src: Path,
    tmp_path: Path,
    cfg: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pro.store import local

    uri = str(tmp_path / "store")
    real = local.LocalBackend._upload_one
    calls = []

    def flaky(self, item, on_done, on_bytes):  # type: ignore[no-untyped-def]
        calls.append(item.rel)
        if item.rel == "sub/tok.txt":
            raise OSError("disk on fire")
        real(self, item, on_done, on_bytes)

    monkeypatch.setattr(local.LocalBackend, "_upload_one", flaky)
    monkeypatch.setattr(local.LocalBackend, "upload", _sequential_upload)
    with pytest.raises(OSError):
        put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert not artifact_exists(uri, config=cfg) and not (tmp_path / "store/manifest.json").exists()
    assert "manifest.json: missing" in verify_artifact(uri, config=cfg)[0]
    monkeypatch.setattr(local.LocalBackend, "_upload_one", real)
    with caplog.at_level("INFO", logger="pro.store"):
        put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    assert "1 files uploaded" in caplog.text and "2 skipped" in caplog.text
    assert sorted(json.loads((tmp_path / "store/.pro-upload.json").read_text())["files"]) == [
        "config.json",
        "model-00001.bin",
        "sub/tok.txt",
    ]


def _sequential_upload(self, items, on_done, on_bytes) -> None:  # type: ignore[no-untyped-def]
    for item in items:
        self._upload_one(item, on_done, on_bytes)


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "remove"])
def test_damaged_files_fail_get_and_verify_naming_the_file(
    damage: str, src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    uri = str(tmp_path / "store")
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    victim = tmp_path / "store/model-00001.bin"
    data = victim.read_bytes()
    if damage == "corrupt":
        victim.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        victim.write_bytes(data[:1000])
    else:
        victim.unlink()
    problems = verify_artifact(uri, config=cfg)
    assert len(problems) == 1 and problems[0].startswith("model-00001.bin:")
    with pytest.raises(StoreError, match=r"model-00001\.bin"):
        get_artifact(uri, tmp_path / "dst", config=cfg)
    assert not (tmp_path / "dst").exists()
    assert [p for p in cfg.cache_dir.iterdir() if not p.name.startswith(".")] == []  # type: ignore[union-attr]
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)  # put repairs it
    assert verify_artifact(uri, config=cfg) == []


def test_missing_artifact_and_bad_source(tmp_path: Path, cfg: StoreConfig) -> None:
    assert read_manifest(str(tmp_path / "nothing"), config=cfg) is None
    with pytest.raises(StoreError, match="no artifact at"):
        get_artifact(str(tmp_path / "nothing"), config=cfg)
    with pytest.raises(StoreError, match="not a directory"):
        put_artifact(tmp_path / "nope", str(tmp_path / "x"), producer=PRODUCER, work_digest=SPEC, config=cfg)
    (tmp_path / "half").mkdir()
    (tmp_path / "half/manifest.json").write_text("{not json")
    assert read_manifest(str(tmp_path / "half"), config=cfg) is None


def test_delete_removes_manifest_then_files(src: Path, tmp_path: Path, cfg: StoreConfig) -> None:
    uri = str(tmp_path / "store")
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    (tmp_path / "store/unrelated.txt").write_text("keep")
    delete_artifact(uri, config=cfg)
    assert not artifact_exists(uri, config=cfg)
    assert sorted(os.listdir(tmp_path / "store")) == ["unrelated.txt"]
    with pytest.raises(StoreError, match="nothing to delete"):
        delete_artifact(uri, config=cfg)


def test_demo_round_trip(tmp_path: Path) -> None:
    from pro.store.demo import round_trip

    line = round_trip(tmp_path)
    assert line.startswith("put, get and verified 3 files") and "\n" not in line
    assert round_trip(tmp_path).startswith("put, get and verified 3 files")  # again: nothing was left
    assert list(tmp_path.iterdir()) == []


def test_local_artifact_is_the_directory_itself_or_the_verified_copy(
    src: Path, tmp_path: Path, cfg: StoreConfig
) -> None:
    assert local_artifact(str(src), "config.json", config=cfg) == src  # used in place
    uri = f"file://{tmp_path}/store/run1/rm"
    put_artifact(src, uri, producer=PRODUCER, work_digest=SPEC, config=cfg)
    copy = local_artifact(uri, "config.json", config=cfg)
    assert copy != src and (copy / "config.json").read_bytes() == (src / "config.json").read_bytes()
    with pytest.raises(StoreError, match=r"^.*/nope: cannot load artifact: no artifact at "):
        local_artifact(str(tmp_path / "nope"), "config.json", config=cfg)
