"""URIs and the manifest format."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.store import FileEntry, Manifest, Producer, StoreError, join_uri
from pro.store.uri import parse_uri

pytestmark = pytest.mark.unit


def test_parse_s3_file_and_plain_paths(tmp_path: Path) -> None:
    loc = parse_uri("s3://bucket/a/b/")
    assert (loc.scheme, loc.bucket, loc.prefix, loc.key("x.bin")) == ("s3", "bucket", "a/b", "a/b/x.bin")
    assert parse_uri("s3://bucket").key("x") == "x"
    assert parse_uri("file:///data/arts").path == Path("/data/arts")
    assert parse_uri(str(tmp_path / "x")).path == tmp_path / "x"
    assert parse_uri("rel/dir").path == Path.cwd() / "rel/dir"


@pytest.mark.parametrize("bad", ["", "s3://", "s3:///key", "gs://b/k", "file://host/x", "file:rel"])
def test_bad_uris_say_what_to_write(bad: str) -> None:
    with pytest.raises(StoreError, match=r"s3://|file|empty|absolute|bucket"):
        parse_uri(bad)


def test_join_uri_keeps_the_form() -> None:
    assert join_uri("s3://b/runs", "ns", "/p/", "stage") == "s3://b/runs/ns/p/stage"
    assert join_uri("s3://b/", "x") == "s3://b/x"
    assert join_uri("file:///a", "b") == "file:///a/b"
    assert join_uri("out", "a", "") == "out/a"


def _manifest() -> Manifest:
    return Manifest(
        files=[FileEntry("a/b.bin", 3, "0" * 64)],
        producer=Producer("AdapterTraining", "adapter"),
        work_digest="f" * 64,
        version="0.1.0",
        created="2026-01-01T00:00:00.000000Z",
    )


def test_manifest_round_trip_and_digest() -> None:
    m = _manifest()
    back = Manifest.from_json(m.to_json())
    assert back == m and back.digest == m.digest and len(m.digest) == 64
    other = Manifest.from_json(m.to_json().replace("adapter", "adapter2"))
    assert other.digest != m.digest


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("pro.artifact/v1", "v0"),
        lambda t: t.replace('"a/b.bin"', '"../b.bin"'),
        lambda t: t.replace('"a/b.bin"', '"/etc/passwd"'),
        lambda t: t.replace('"size": 3', '"size": "x"'),
        lambda t: t[:-5],
        lambda t: t.replace('"workDigest"', '"spec"'),
    ],
)
def test_invalid_manifests_are_rejected(edit) -> None:
    with pytest.raises(ValueError):
        Manifest.from_json(edit(_manifest().to_json()))


def test_a_manifest_written_before_the_rename_reads_its_work_digest() -> None:
    """Artifacts committed before 0.2 name the work digest ``specDigest``; they stay readable."""
    m = _manifest()
    old = m.to_json().replace('"workDigest"', '"specDigest"')
    assert Manifest.from_json(old).work_digest == m.work_digest
