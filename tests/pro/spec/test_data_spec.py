"""The DataSource spec: defaults and cross-field rules, reported with path and line."""

from __future__ import annotations

import pytest

from pro.spec import SpecError, load_text, parse
from pro.spec.data import DataSource

pytestmark = pytest.mark.unit


def test_defaults_and_hub_ids() -> None:
    src = DataSource(format="ultrafeedback")
    assert src.hub_id == "openbmb/UltraFeedback" and src.split == "train" and src.seed == 0
    assert DataSource(format="hh-rlhf").hub_id == "Anthropic/hh-rlhf"
    assert DataSource(format="pku-saferlhf", hfId="me/mirror").hub_id == "me/mirror"
    assert DataSource(format="jsonl", path="a.jsonl").hub_id is None
    assert DataSource(format="jsonl", path="a.jsonl").to_dict() == {
        "format": "jsonl", "path": "a.jsonl", "split": "train", "seed": 0
    }  # fmt: skip


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("format: jsonl\n", "format 'jsonl' needs 'path'"),
        ("format: parquet\npath: a.parquet\nhfId: x/y\n", "'hfId' applies only to hub formats"),
        ("format: ultrafeedback\nobjectives: [humor]\n", "has no objective 'humor'"),
        ("format: hh-rlhf\ndataDir: red-team\n", "dataDir must be one of helpful-base, harmless-base"),
        ("format: csv\n", "Input should be"),
        ("format: hh-rlhf\nmaxRows: 0\n", "greater than or equal to 1"),
        ("format: hh-rlhf\nhfid: x\n", "did you mean 'hfId'"),
    ],
)
def test_invalid_sources(yaml_text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(DataSource, load_text(yaml_text, "src.yaml"))
    assert message in str(info.value)
    assert "src.yaml:" in str(info.value)
