"""Every ``pro`` command the README, the docs and ``--help`` examples show still exists as written: argparse
accepts it, and an example file it names is in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.cli import VERBS, build_parser
from pro.cli.helptext import walk
from tests.pro.cli.commands import Command, fenced_blocks, parse_error, pro_commands, spec_files

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def documented() -> list[Command]:
    found = []
    for doc in DOCS:
        for line, block in fenced_blocks(doc.read_text()):
            found += pro_commands(block, f"{doc.relative_to(REPO)}:{line}")
    return found


def help_examples() -> list[Command]:
    found = []
    for verb in VERBS:
        for command, parser in walk(build_parser(verb), f"pro {verb.name}"):
            epilog = parser.epilog or ""
            found += pro_commands(epilog.partition("examples:")[2], f"{command} --help")
    return found


def check(commands: list[Command]) -> list[str]:
    bad = [f"{c}: {err}" for c in commands if (err := parse_error(c))]
    for c in commands:
        for f in spec_files(c):
            if f.startswith("examples/") and "$" not in f and not (REPO / f).is_file():
                bad.append(f"{c}: {f} is not in the repository")
    return bad


def test_the_readme_shows_pro_commands() -> None:
    readme = [c for c in documented() if c.where.startswith("README.md")]
    assert {c.args[0] for c in readme} >= {"run", "validate", "toy", "stage", "weights", "eval"}


def test_documented_commands_parse() -> None:
    bad = check(documented())
    assert not bad, "\n".join(bad)


def test_help_examples_parse() -> None:
    commands = help_examples()
    assert {c.args[0] for c in commands} == {v.name for v in VERBS}
    bad = check(commands)
    assert not bad, "\n".join(bad)


def test_a_removed_flag_is_caught() -> None:
    """The check fails for a command that no longer parses (the old ``pro eval --a``)."""
    (old,) = pro_commands("pro eval --a x --b y", "old")
    assert parse_error(old) is not None
    (loop,) = pro_commands("for o in a b; do pro stage reward -f examples/toy/reward-$o.yaml; done", "x")
    assert loop.args == ("stage", "reward", "-f", "examples/toy/reward-$o.yaml")
