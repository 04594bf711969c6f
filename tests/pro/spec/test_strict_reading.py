"""Spec files read as the cluster reads them (#18 items 9, 10, 12): kubectl's YAML scalars, 64-bit integers,
bounded input (size, aliases), and one clear line for each problem."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from pro.spec import SpecError, load_text
from pro.spec.loader import MAX_BYTES, MAX_VALUES, load_documents, read_documents
from pro.spec.stages import RewardModelTraining

pytestmark = pytest.mark.unit

RM = """\
apiVersion: pro.alignment.dev/v1alpha1
kind: RewardModelTraining
metadata: {name: rm}
spec:
  objective: helpfulness
  data: {format: jsonl, path: pairs.jsonl}
  model: {name: some/model}
  training: {maxSteps: 10, seed: SEED}
  output: s3://b/rm
"""


def problems(text: str) -> list[str]:
    from pro.spec import parse

    with pytest.raises(SpecError) as err:
        parse(RewardModelTraining, load_text(text, "rm.yaml"))
    return [p.render("rm.yaml") for p in err.value.problems]


def test_plain_scalars_read_as_kubectl_reads_them() -> None:
    data = load_text("a: 1e-5\nb: 2026-01-05\nc: y\nd: 1:30\ne: 0o17\nf: 1_000\ng: =\nh: 010\n").data
    assert data == {
        "a": 1e-5,
        "b": "2026-01-05",
        "c": True,
        "d": "1:30",
        "e": 15,
        "f": 1000,
        "g": "=",
        "h": 8,
    }


def test_64_bit_integers_are_the_limit() -> None:
    from pro.spec import parse

    parse(RewardModelTraining, load_text(RM.replace("SEED", str(2**63 - 1)), "rm.yaml"))
    assert problems(RM.replace("SEED", str(2**63))) == [
        "rm.yaml:8: spec.training.seed: 9223372036854775808 is out of range: Kubernetes integers are 64-bit "
        "(at most 9223372036854775807)"
    ]


def test_coercion_is_refused_with_the_value_and_what_to_write() -> None:
    assert problems(RM.replace("SEED", '"7"')) == [
        "rm.yaml:8: spec.training.seed: expected an integer, got the string '7': write it without quotes"
    ]
    assert problems(RM.replace("SEED", "true")) == [
        "rm.yaml:8: spec.training.seed: expected an integer, got true"
    ]
    assert problems(RM.replace("maxSteps: 10", "max_steps: 10").replace("SEED", "0")) == [
        "rm.yaml:8: spec.training.max_steps: unknown field: fields are camelCase, write 'maxSteps' (the cluster "
        "would drop 'max_steps')"
    ]


def test_an_alias_bomb_is_one_line_not_memory() -> None:
    bomb = "a: &a [" + ", ".join(["lol"] * 9) + "]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"  # 9**9 values once expanded
    tracemalloc.start()
    with pytest.raises(SpecError) as err:
        load_text(bomb, "bomb.yaml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (problem,) = err.value.problems
    assert problem.line == 6 and f"more than {MAX_VALUES} values once its aliases" in problem.message
    assert peak < 20 * 1024 * 1024, peak  # the expansion is counted, never built


def test_an_alias_inside_its_own_anchor_is_one_line() -> None:
    with pytest.raises(SpecError, match=r"x.yaml:2: an alias \(\*name\) inside its own anchor"):
        load_text("a: 1\nb: &b {c: [*b]}\n", "x.yaml")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(RM + "#" + "x" * MAX_BYTES + "\n")
    with pytest.raises(SpecError, match=f"has {big.stat().st_size} bytes, more than {MAX_BYTES}"):
        read_documents(big)


def test_empty_documents_are_skipped_and_boms_read(tmp_path: Path) -> None:
    assert len(load_documents("---\n" + RM + "---\n")) == 1
    for encoding in ("utf-16", "utf-8-sig", "utf-32"):
        path = tmp_path / f"{encoding}.yaml"
        path.write_bytes(RM.encode(encoding))
        (doc,) = read_documents(path)
        assert doc.data["metadata"] == {"name": "rm"}
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(RM.replace("some/model", "caf\xe9").encode("latin-1"))
    with pytest.raises(
        SpecError, match=r"latin.yaml:7: not UTF-8 text: byte 0xe9 at offset \d+; save the file"
    ):
        read_documents(latin)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'a: 1\nb: "open\nc: 2\nd: 3\n',
            "x.yaml:2: unclosed quote: the string starting at column 4 has no closing quote (the file ends at line 5)",
        ),
        (
            "a:\n  b: 1\n\u00a0 c: 2\n",
            "x.yaml:3: a non-breaking space (U+00A0) in the key 'c': use plain spaces",
        ),
        (
            "a:\n  b:\n    x: 1\n \u00a0  c: 2\n",
            "x.yaml:4: a non-breaking space (U+00A0) at column 2 in the indentation: indent with plain spaces",
        ),
        ("a:\n  b: 1\n\tc: 2\n", "x.yaml:3: a tab at column 1 in the indentation: indent with plain spaces"),
        ("a: {b: 1\nc: 2\n", "x.yaml:1: a {...} mapping not closed at column 4"),
        ("a:\n  b 1\n  c: 2\n", "x.yaml:2: a key without its ':'"),
        ("a: 1\na: 2\n", "x.yaml:2: a: duplicate key"),
    ],
    ids=["quote", "nbsp-key", "nbsp-indent", "tab", "flow", "colon", "duplicate"],
)
def test_yaml_mistakes_are_named_where_they_are(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as err:
        load_text(text, "x.yaml")
    assert err.value.problems[0].render("x.yaml").startswith(expected), err.value.problems[0]
