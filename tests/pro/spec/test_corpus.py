"""The malformed-input corpus (#18): resource files of every kind written as platform users get them wrong,
one mistake each, and the valid ones they get right.

Each file says what it is and what must be named (``# expect: <field path>``, ``line:N``, ``valid``).
``pro validate`` (in-process, ``--offline``; the data files and the world are beside the cases, where their
relative paths point) names the field or line of every invalid one and accepts every valid one; and no file it accepts is one the API
server would change by pruning (unknown fields, nulls), checked against the schema the CRDs are made of.
``tests/pro_operator/test_corpus_operator.py`` sends the same files through kubectl and the real operator.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pro.cli import main
from pro.spec import SpecError
from pro.spec.kinds import kind_named
from pro.spec.loader import decode, load_documents
from pro.spec.openapi import as_stored, crd_schema

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).with_name("corpus")
CASES = sorted((CORPUS / "cases").glob("*.yaml"))


def expectation(path: Path) -> str:
    """What a case file says must be named (its ``# expect:`` line)."""
    text = decode(path.read_bytes(), str(path))
    found = re.search(r"^# expect: (.+)$", text, re.MULTILINE)
    assert found, f"{path.name}: no '# expect:' line"
    return found.group(1).strip()


def named(expect: str, out: str, name: str) -> bool:
    """Whether ``pro validate``'s output names what the case expects."""
    where = re.escape(f"cases/{name}")
    if expect == "file":
        return re.search(rf"{where}: ", out) is not None
    if expect == "line":
        return re.search(rf"{where}:\d+: ", out) is not None
    if expect.startswith("line:"):
        return re.search(rf"{where}:{expect[5:]}: ", out) is not None
    return re.search(rf"(^|\s){re.escape(expect)}: ", out, re.MULTILINE) is not None


def test_the_corpus_covers_every_kind_with_enough_cases() -> None:
    kinds = {path.name.split("-", 1)[0] for path in CASES}
    assert kinds == {"p", "rm", "ad", "pa", "pe", "sc"}  # pipeline, the four stage kinds, schedule
    invalid = [p for p in CASES if expectation(p) != "valid"]
    assert len(invalid) >= 150 and len(CASES) - len(invalid) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pro_validate_names_the_field_of_every_mistake(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(CORPUS)
    code = main(["validate", "--offline", "-f", f"cases/{path.name}"])
    out = capsys.readouterr().out
    expect = expectation(path)
    assert "Traceback" not in out
    if expect == "valid":
        assert code == 0, out
    else:
        assert code == 1, out
        assert named(expect, out, path.name), f"{expect} not named in:\n{out}"


def _documents(path: Path) -> list[Any]:
    try:
        return [d.data for d in load_documents(decode(path.read_bytes(), str(path)), str(path))]
    except SpecError:
        return []


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_nothing_pro_validate_accepts_would_be_pruned_by_the_api_server(path: Path) -> None:
    for doc in _documents(path):
        if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
            continue
        try:
            model = kind_named(doc.get("kind", "")).model()
        except KeyError:
            continue
        schema = crd_schema(model)["properties"]["spec"]
        if not _kept(doc["spec"], as_stored(doc["spec"], schema)):
            assert expectation(path) != "valid", f"{path.name}: the API server would drop part of it"


def _kept(sent: Any, stored: Any) -> bool:
    """Whether everything ``sent`` holds is in ``stored`` as sent (defaults added do not count)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(k in stored and _kept(v, stored[k]) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(stored, list) and len(sent) == len(stored) and all(map(_kept, sent, stored))
    return bool(sent == stored)
