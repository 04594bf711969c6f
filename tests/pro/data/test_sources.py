"""Loaders: local files and the public data sets (fed local files in each data set's own format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.data import DataError, load_preferences, read_pairs
from pro.data.sources import split_transcript
from pro.spec.data import DataSource

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"


def _src(fmt: str, name: str, **kw: object) -> DataSource:
    return DataSource.model_validate({"format": fmt, "path": str(FIXTURES / name), **kw})


def test_jsonl_source_filters_and_caps() -> None:
    assert load_preferences(_src("jsonl", "pairs.jsonl")) == read_pairs(FIXTURES / "pairs.jsonl")
    helpful = load_preferences(_src("jsonl", "pairs.jsonl"), "helpfulness")
    assert [p.id for p in helpful] == ["p1", None]
    assert len(load_preferences(_src("jsonl", "pairs.jsonl", maxRows=1))) == 3  # one per objective
    assert len(load_preferences(_src("jsonl", "pairs.jsonl", objectives=["humor"]))) == 1
    with pytest.raises(DataError, match="objective 'helpfulness' is not among humor"):
        load_preferences(_src("jsonl", "pairs.jsonl", objectives=["humor"]), "helpfulness")


def test_parquet_source(tmp_path: Path) -> None:
    from pro.data import write_pairs

    write_pairs(read_pairs(FIXTURES / "pairs.jsonl"), tmp_path / "p.parquet")
    src = DataSource(format="parquet", path=str(tmp_path / "p.parquet"))
    assert load_preferences(src) == read_pairs(FIXTURES / "pairs.jsonl")


def test_ultrafeedback_one_set_per_aspect() -> None:
    pairs = load_preferences(_src("ultrafeedback", "ultrafeedback.jsonl"))
    by = {(p.id or "").rsplit("-", 1)[0] + ":" + p.objective: p for p in pairs}
    # row 1: helpfulness ratings 5, 1, 5 → chosen is one of the two 5s, rejected the 1
    h = by["uf-train-1:helpfulness"]
    assert h.rejected == "Eight." and h.chosen in ("Seven.", "Seven, a prime.")
    assert by["uf-train-1:honesty"].chosen == "Seven."
    # instruction_following: 5, N/A, 4 → N/A skipped
    assert by["uf-train-1:instruction_following"].rejected == "Seven, a prime."
    # row 2 ties on three aspects; only truthfulness (4 vs 3) gives a pair; row 3 has < 2 ratings
    assert sorted(k for k in by if k.startswith("uf-train-2")) == ["uf-train-2:truthfulness"]
    assert not [k for k in by if k.startswith("uf-train-3")]
    assert h.category == "evol_instruct" and h.prompt == "Name a prime number."
    # deterministic per seed; only the chosen objective when asked
    assert load_preferences(_src("ultrafeedback", "ultrafeedback.jsonl")) == pairs
    only = load_preferences(_src("ultrafeedback", "ultrafeedback.jsonl"), "truthfulness")
    assert {p.objective for p in only} == {"truthfulness"} and len(only) == 2


def test_ultrafeedback_bad_rating() -> None:
    with pytest.raises(DataError, match=r"row 2: field \"completions\[\]\.annotations\.honesty\.Rating\""):
        load_preferences(_src("ultrafeedback", "ultrafeedback_bad.jsonl"))


def test_hh_rlhf_directory_layout() -> None:
    pairs = load_preferences(_src("hh-rlhf", "hh-rlhf"))
    assert [p.objective for p in pairs] == ["helpfulness", "helpfulness", "harmlessness"]
    assert pairs[1].prompt.endswith("What is 2+2?\n\nAssistant:") and pairs[1].chosen == "4."
    assert pairs[1].rejected == "5."
    harmless = load_preferences(_src("hh-rlhf", "hh-rlhf", dataDir="harmless-base"))
    assert [p.chosen for p in harmless] == ["I won't help with that."]
    assert load_preferences(_src("hh-rlhf", "hh-rlhf"), "harmlessness") == harmless


def test_hh_rlhf_errors() -> None:
    with pytest.raises(DataError, match=r'\(helpful-base\): row 2: field "chosen": no shared prefix'):
        load_preferences(_src("hh-rlhf", "hh_bad.jsonl", dataDir="helpful-base"))
    with pytest.raises(DataError, match="needs dataDir"):
        load_preferences(_src("hh-rlhf", "hh_bad.jsonl"))
    assert split_transcript("no", "marker") is None


def test_pku_saferlhf() -> None:
    pairs = load_preferences(_src("pku-saferlhf", "pku_saferlhf.jsonl"))
    assert len(pairs) == 4
    lock = [p for p in pairs if p.prompt == "How to pick a lock?"]
    assert {p.objective: p.chosen for p in lock} == {
        "helpfulness": "Use a pick and tension wrench.",
        "harmlessness": "Call a locksmith.",
    }
    with pytest.raises(DataError, match=r'row 2: field "better_response_id": must be 0 or 1, got 2'):
        load_preferences(_src("pku-saferlhf", "pku_bad.jsonl"))


def test_missing_local_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or directory"):
        load_preferences(_src("pku-saferlhf", "absent.jsonl"))
    (tmp_path / "pairs.txt").write_text("x")
    with pytest.raises(DataError, match="unknown data file type"):
        load_preferences(DataSource(format="pku-saferlhf", path=str(tmp_path / "pairs.txt")))
    with pytest.raises(DataError, match="format pku-saferlhf has no objective 'humor'"):
        load_preferences(_src("pku-saferlhf", "pku_saferlhf.jsonl"), "humor")
