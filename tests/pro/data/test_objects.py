"""Data references against real storage: the moto S3 server on loopback and local files.

Exact objects, prefixes and globs are pinned to their objects (size, ETag or sha256); rows stream from
JSONL and Parquet; ``{{latestComplete}}`` never picks a drop without its completion marker; an object
rewritten after it was pinned fails the read naming it; ``maxRows`` stops reading early.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from pro.data import DataError, load_preferences, read_pairs, write_pairs
from pro.data.objects import DataChanged, iter_records, pin, pinned
from pro.data.schema import PreferencePair
from pro.spec.data import DataSource
from pro.store import StoreError

pytestmark = pytest.mark.integration


def pairs(objective: str, n: int, tag: str = "") -> list[PreferencePair]:
    return [PreferencePair(f"p{i}{tag}", f"good {i}", f"bad {i}", objective) for i in range(n)]


def jsonl(rows: list[PreferencePair]) -> bytes:
    return "".join(json.dumps(r.to_dict()) + "\n" for r in rows).encode()


@pytest.fixture
def s3(s3_bucket: str, s3_env: dict[str, str]) -> Any:
    return boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])


def test_exact_prefix_and_glob_pin_the_objects_they_name(s3: Any, s3_bucket: str, tmp_path: Path) -> None:
    b = s3_bucket
    s3.put_object(Bucket=b, Key="prefs/a/helpfulness.jsonl", Body=jsonl(pairs("helpfulness", 3)))
    s3.put_object(Bucket=b, Key="prefs/a/humor.jsonl", Body=jsonl(pairs("humor", 2)))
    s3.put_object(Bucket=b, Key="prefs/a/README.md", Body=b"not data")
    s3.put_object(Bucket=b, Key="prefs/a/deep/humor.jsonl", Body=jsonl(pairs("humor", 1, "deep")))
    write_pairs(pairs("honesty", 4), tmp_path / "h.parquet")
    s3.upload_file(str(tmp_path / "h.parquet"), b, "prefs/b/honesty.parquet")

    exact = pin(f"s3://{b}/prefs/a/humor.jsonl")
    head = s3.head_object(Bucket=b, Key="prefs/a/humor.jsonl")
    assert [(o.uri, o.size, o.etag) for o in exact.objects] == [
        (f"s3://{b}/prefs/a/humor.jsonl", head["ContentLength"], head["ETag"].strip('"'))
    ]
    prefix = pin(f"s3://{b}/prefs/a/")  # every data object below it, sorted; not README.md
    assert [o.uri.rsplit("/", 2)[-2:] for o in prefix.objects] == [
        ["deep", "humor.jsonl"],
        ["a", "helpfulness.jsonl"],
        ["a", "humor.jsonl"],
    ]
    glob = pin(f"s3://{b}/prefs/*/humor.jsonl")  # "*" is one segment, as in a shell
    assert [o.uri for o in glob.objects] == [f"s3://{b}/prefs/a/humor.jsonl"]
    assert [p.objective for p in read_pairs(f"s3://{b}/prefs/*/*.parquet")] == ["honesty"] * 4
    rows = list(iter_records(f"s3://{b}/prefs/a/humor.jsonl"))
    assert rows[1][0] == f"s3://{b}/prefs/a/humor.jsonl:2" and rows[1][1]["prompt"] == "p1"


def test_latest_complete_drop_is_the_newest_with_a_marker(s3: Any, s3_bucket: str) -> None:
    b = s3_bucket
    s3.put_object(Bucket=b, Key="prefs/2026-11-30/humor.jsonl", Body=jsonl(pairs("humor", 1, "old")))
    s3.put_object(Bucket=b, Key="prefs/2026-11-30/_SUCCESS", Body=b"")
    s3.put_object(Bucket=b, Key="prefs/2026-12-07/humor.jsonl", Body=jsonl(pairs("humor", 1, "new")))
    s3.put_object(Bucket=b, Key="prefs/2026-12-07/manifest.json", Body=b"{}")
    s3.put_object(Bucket=b, Key="prefs/2026-12-14/humor.jsonl", Body=b"half written")  # no marker yet
    got = pin(f"s3://{b}/prefs/{{{{latestComplete}}}}/*.jsonl")
    assert got.selected == f"s3://{b}/prefs/2026-12-07/"
    assert [o.uri for o in got.objects] == [f"s3://{b}/prefs/2026-12-07/humor.jsonl"]
    with pytest.raises(DataError, match=r"no child of s3://.*/empty/ holds _SUCCESS or manifest\.json"):
        pin(f"s3://{b}/empty/{{{{latestComplete}}}}/x.jsonl")


def test_an_object_rewritten_after_pinning_fails_naming_it(s3: Any, s3_bucket: str, tmp_path: Path) -> None:
    b, key = s3_bucket, "prefs/humor.jsonl"
    s3.put_object(Bucket=b, Key=key, Body=jsonl(pairs("humor", 2)))
    ref = f"s3://{b}/{key}"
    snapshot = {ref: pin(ref)}
    s3.put_object(Bucket=b, Key=key, Body=jsonl(pairs("humor", 2, "x")))  # same size class, new bytes
    with pinned(snapshot), pytest.raises(DataChanged, match=rf"{ref}: rewritten after the run pinned it"):
        read_pairs(ref)
    assert read_pairs(ref)[0].prompt == "p0x"  # outside the snapshot: pinned afresh, the new bytes

    local = tmp_path / "humor.jsonl"
    local.write_bytes(jsonl(pairs("humor", 2)))
    snapshot = {str(local): pin(str(local))}
    local.write_bytes(jsonl(pairs("humor", 2)).replace(b"good", b"nice"))  # same size, other bytes
    with pinned(snapshot), pytest.raises(DataChanged, match=r"humor\.jsonl: changed after the run pinned it"):
        read_pairs(local)


def test_max_rows_stops_reading_once_every_objective_is_full(s3: Any, s3_bucket: str) -> None:
    b = s3_bucket
    s3.put_object(Bucket=b, Key="big/0.jsonl", Body=jsonl(pairs("humor", 50)))
    s3.put_object(Bucket=b, Key="big/1.jsonl", Body=jsonl(pairs("humor", 50, "late")))
    ref = f"s3://{b}/big/"
    snapshot = {ref: pin(ref)}
    s3.delete_object(Bucket=b, Key="big/1.jsonl")  # never opened: the first object fills maxRows
    source = DataSource(format="jsonl", path=ref, maxRows=10)
    with pinned(snapshot):
        assert len(load_preferences(source, "humor")) == 10
        with pytest.raises(DataChanged, match=r"big/1\.jsonl: deleted after the run pinned it"):
            load_preferences(DataSource(format="jsonl", path=ref))


def test_unreadable_or_empty_references_are_one_line(s3_env: dict[str, str], s3_bucket: str) -> None:
    with pytest.raises(StoreError, match=r"bucket 'no-such-bucket' does not exist"):
        pin("s3://no-such-bucket/prefs/")
    with pytest.raises(DataError, match=rf"s3://{s3_bucket}/nothing/: matches no \.jsonl/\.parquet object"):
        pin(f"s3://{s3_bucket}/nothing/")
    with pytest.raises(DataError, match=rf"s3://{s3_bucket}/x\.jsonl: no such object"):
        pin(f"s3://{s3_bucket}/x.jsonl")
    with pytest.raises(DataError, match=r"placeholder.*scheduledTime not filled"):
        pin(f"s3://{s3_bucket}/{{{{scheduledTime:%Y}}}}/x.jsonl")
