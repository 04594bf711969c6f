"""Data files read with a bound and with file:line on every problem (#18 item 12): a deeply nested row,
an integer too long to read, a key given twice, a line that is not a row; ``maxRows`` and ``maxPrompts``
stop the reading (a public data set's local mirror is streamed, never loaded whole)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pro.data import DataError, load_preferences, read_pairs
from pro.data.inputs import read_prompt_texts
from pro.data.objects import MAX_ROW_BYTES
from pro.spec.data import DataSource

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
ROW = '{"prompt": "p", "chosen": "a", "rejected": "b", "objective": "helpfulness"'


@pytest.mark.parametrize(
    ("second_line", "problem"),
    [
        (ROW + ', "meta": ' + "[" * 100_000 + "]" * 100_000 + "}", "invalid JSON: nested too deeply"),
        (ROW + ', "id": ' + "7" * 5000 + "}", "invalid JSON: Exceeds the limit (4300 digits)"),
        (ROW + ', "objective": "humor"}', "duplicate key 'objective'"),
        ('{"prompt": "p", "chosen": "a"', "invalid JSON: Expecting ',' delimiter"),
    ],
    ids=["deep", "digits", "duplicate-key", "truncated"],
)
def test_every_bad_row_is_one_error_naming_file_and_line(
    tmp_path: Path, second_line: str, problem: str
) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(ROW + "}\n" + second_line + "\n")
    with pytest.raises(DataError) as err:
        read_pairs(path)
    assert str(err.value).startswith(f"{path}:2: {problem}"), err.value


def test_not_utf8_and_a_line_that_is_not_a_row_are_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes((ROW + "}\n").encode() + b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(DataError, match=rf"^{latin}:2: not UTF-8 text \(byte 0xe9 at column 16\)"):
        read_pairs(latin)
    blob = tmp_path / "blob.jsonl"
    with blob.open("w") as fh:
        fh.write(ROW + "}\n")
        fh.write(" " * (MAX_ROW_BYTES + 10))
    with pytest.raises(DataError, match=rf"^{blob}:2: a line longer than {MAX_ROW_BYTES} bytes"):
        read_pairs(blob)


def _ultrafeedback_mirror(path: Path, good_rows: int) -> None:
    """A local UltraFeedback mirror: ``good_rows`` rows (about 2 KB each), then a broken one."""
    row = (FIXTURES / "ultrafeedback.jsonl").read_text().splitlines()[0]
    with path.open("w") as fh:
        for _ in range(good_rows):
            fh.write(row + "\n")
        fh.write('{"instruction": "broken\n')


def test_max_rows_reads_only_the_rows_it_keeps_from_a_public_data_set_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "uf.jsonl"
    _ultrafeedback_mirror(mirror, good_rows=12_000)  # ~25 MB: more than one of datasets' 10 MB blocks
    source = {"format": "ultrafeedback", "path": str(mirror)}
    capped = load_preferences(DataSource.model_validate({**source, "maxRows": 2}))
    assert len(capped) == 8  # two per aspect, and the broken last row was never read
    with pytest.raises(DataError, match=rf"ultrafeedback {mirror}: cannot load split 'train'"):
        load_preferences(DataSource.model_validate(source))  # all of it: the broken row is reached


def test_max_prompts_stops_reading_prompts(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(5)) + "{broken\n")
    assert read_prompt_texts(str(prompts), limit=3) == ["p0", "p1", "p2"]
    with pytest.raises(DataError, match=rf"^{prompts}:6: invalid JSON"):
        read_prompt_texts(str(prompts))
