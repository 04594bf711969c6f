"""YAML specs load into typed models, and every problem names its path and line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from pro.spec import Resource, SpecError, SpecModel, dump_yaml, load_file, load_text, parse, spec_digest

pytestmark = pytest.mark.unit


class Dataset(SpecModel):
    path: str
    """Where the rows are."""
    max_rows: int = Field(default=100, ge=1)


class Objective(SpecModel):
    name: str
    dataset: Dataset


class DemoSpec(SpecModel):
    objectives: list[Objective] = Field(min_length=1)
    tau: float = Field(default=0.1, gt=0)
    method: Literal["morlhf", "wic"] = "morlhf"


class Demo(Resource):
    kind: Literal["Demo"] = "Demo"
    spec: DemoSpec


GOOD = """\
apiVersion: pro.alignment.dev/v1alpha1
kind: Demo
metadata:
  name: toy
spec:
  objectives:
    - name: helpfulness
      dataset:
        path: a.jsonl
        maxRows: 5
"""


def load(text: str) -> Demo:
    return parse(Demo, load_text(text, "p.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load(text)
    return [p.render("p.yaml") for p in exc.value.problems]


def test_good_spec_loads_with_camel_case_names_and_defaults() -> None:
    demo = load(GOOD)
    assert demo.spec.objectives[0].dataset.max_rows == 5
    assert demo.spec.tau == 0.1 and demo.metadata.name == "toy"


def test_round_trip_and_digest_is_stable() -> None:
    demo = load(GOOD)
    again = load(dump_yaml(demo))
    assert again == demo
    assert spec_digest(demo.spec) == spec_digest(again.spec)
    changed = demo.spec.model_copy(update={"tau": 0.5})
    assert spec_digest(changed) != spec_digest(demo.spec)


def test_every_problem_is_reported_at_once_with_path_and_line() -> None:
    bad = GOOD.replace("        path: a.jsonl\n", "").replace("maxRows: 5", "maxRows: 0")
    bad += "  tau: -1\n  method: ppo\n"
    found = problems(bad)
    assert "p.yaml:8: spec.objectives[0].dataset.path: required field is missing" in found
    assert any(
        f.startswith("p.yaml:9: spec.objectives[0].dataset.maxRows: Input should be greater") for f in found
    )
    assert any(f.startswith("p.yaml:10: spec.tau:") for f in found)
    assert any(f.startswith("p.yaml:11: spec.method:") and "'ppo'" in f for f in found)
    assert len(found) == 4


def test_unknown_field_suggests_the_close_one() -> None:
    (found,) = problems(GOOD.replace("maxRows", "maxRow"))
    assert found.startswith(
        "p.yaml:10: spec.objectives[0].dataset.maxRow: unknown field; did you mean 'maxRows'?"
    )
    assert "(allowed: maxRows, path;" in found


def test_duplicate_keys_are_errors() -> None:
    (found,) = problems(GOOD + "  objectives: []\n")
    assert found == "p.yaml:11: spec.objectives: duplicate key"


def test_invalid_yaml_names_the_line() -> None:
    (found,) = problems(GOOD.replace("name: toy", "name: [toy"))
    assert found.startswith("p.yaml:4: a [...] list not closed at column 9")  # where the list opens


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("a: 1\n---\nb: 2\n", "expected one YAML document, found 2 (at lines 1, 3)")],
)
def test_whole_file_problems(text: str, message: str) -> None:
    assert problems(text) == [f"p.yaml: {message}"]


def test_bad_names_and_api_version() -> None:
    found = problems(GOOD.replace("name: toy", "name: Toy_1").replace("v1alpha1", "v2"))
    assert any(f.startswith("p.yaml:1: apiVersion:") for f in found)
    assert any(f.startswith("p.yaml:4: metadata.name:") for f in found)


def test_load_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_file(tmp_path / "missing.yaml", Demo)
    (tmp_path / "ok.yaml").write_text(GOOD)
    assert load_file(tmp_path / "ok.yaml", Demo).metadata.name == "toy"


def test_error_message_lists_all_problems() -> None:
    with pytest.raises(SpecError) as exc:
        load(GOOD.replace("maxRows: 5", "maxRows: x\n        extra: 1"))
    text = str(exc.value)
    assert text.splitlines()[0] == "p.yaml: 2 problem(s) in the spec"
