"""The preference-data schema: JSONL and Parquet round trips, and errors naming file, row and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.data import (
    DataError,
    PreferencePair,
    PromptRecord,
    read_pairs,
    read_prompts,
    write_pairs,
    write_prompts,
)
from pro.errors import UserError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"


def test_read_jsonl_fixture() -> None:
    pairs = read_pairs(FIXTURES / "pairs.jsonl")
    assert len(pairs) == 4
    assert pairs[0] == PreferencePair(
        "How do I boil an egg?", "Boil it for 8 minutes.", "Eggs are funny.", "helpfulness", "howto", "p1"
    )
    assert pairs[2].id == "3"  # integer ids become strings
    assert pairs[3].category is None  # extra columns are ignored


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    pairs = read_pairs(FIXTURES / "pairs.jsonl")
    path = tmp_path / "sub" / f"out{suffix}"
    assert write_pairs(pairs, path) == 4
    assert read_pairs(path) == pairs
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_prompt_records_round_trip(tmp_path: Path, suffix: str) -> None:
    records = [PromptRecord("hi", "hello", "chat", "1"), PromptRecord("bye")]
    write_prompts(records, tmp_path / f"p{suffix}")
    assert read_prompts(tmp_path / f"p{suffix}") == records


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_missing.jsonl", 'bad_missing.jsonl:3: field "chosen": missing'),
        ("bad_json.jsonl", "bad_json.jsonl:2: invalid JSON"),
        ("bad_type.jsonl", 'bad_type.jsonl:1: field "chosen": expected a string, got list'),
        ("bad_array.jsonl", "bad_array.jsonl:1: expected a JSON object, got list"),
        ("nope.jsonl", "nope.jsonl: no such file"),
        ("pairs.txt", "pairs.txt: unknown data file type"),
    ],
)
def test_malformed_jsonl_names_file_row_and_field(name: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace(".", r"\.").replace("(", r"\(")) as info:
        read_pairs(FIXTURES / name)
    assert isinstance(info.value, UserError)
    assert str(FIXTURES) in str(info.value)


def test_malformed_parquet_names_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"prompt": ["a", "b"], "chosen": ["x", None], "rejected": ["y", "z"], "objective": ["o", "o"]}
    )
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r't\.parquet: row 2: field "chosen": missing'):
        read_pairs(tmp_path / "t.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_pairs(tmp_path / "junk.parquet")
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "none.parquet")


def test_empty_required_field_and_directory(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text('{"prompt": " ", "chosen": "a", "rejected": "b", "objective": "o"}\n')
    with pytest.raises(DataError, match=r'e\.jsonl:1: field "prompt": empty'):
        read_pairs(tmp_path / "e.jsonl")
    (tmp_path / "d.jsonl").mkdir()  # a directory is a prefix: every data file under it
    with pytest.raises(DataError, match=r"d\.jsonl: matches no \.jsonl/\.parquet object"):
        read_pairs(tmp_path / "d.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match="not UTF-8"):
        read_pairs(tmp_path / "bin.jsonl")


def test_unwritable_destination(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write"):
        write_pairs([], blocker / "out.jsonl")
