"""Every ``--help`` of every verb and sub-verb (found by walking the parsers) reads cleanly at 80 columns:
no Markdown backticks, no line wider than the terminal, and an examples section (last) with an example of
the command itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from pro.cli import VERBS, build_parser

pytestmark = pytest.mark.unit


def sub_parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``(command, parser)`` of ``parser`` and of each of its sub-commands, recursively."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from sub_parsers(sub, f"{path} {name}")


def every_parser() -> list[tuple[str, argparse.ArgumentParser]]:
    return [found for verb in VERBS for found in sub_parsers(build_parser(verb), f"pro {verb.name}")]


COMMANDS = [command for command, _ in every_parser()]


def test_the_walk_finds_sub_commands() -> None:
    assert {"pro store put", "pro store ls", "pro toy generate", "pro toy drops"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_cleanly_at_80_columns(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = dict(every_parser())[command].format_help()
    assert "`" not in text, f"{command} --help shows Markdown backticks"
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, f"{command} --help has lines over 80 columns: {wide}"
    lines = text.splitlines()
    assert "examples:" in lines, f"{command} --help has no examples section"
    assert lines.index("examples:") > lines.index("options:"), f"{command}: examples go last, as kubectl's"
    examples = lines[lines.index("examples:") + 1 :]
    assert any(line.strip().startswith(command) for line in examples), f"{command}: no example of itself"


def test_prose_is_wrapped_and_examples_kept() -> None:
    from pro.cli.helptext import HelpFormatter

    text = "A first line\nof one paragraph that goes on and on.\n\nexamples:\n  pro run -f a.yaml   --x\n"
    filled = HelpFormatter("pro")._fill_text(text, 20, "")
    assert filled.splitlines() == [
        "A first line of one",
        "paragraph that goes",
        "on and on.",
        "",
        "examples:",
        "  pro run -f a.yaml   --x",
    ]


def test_top_help_fits_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    from pro.cli import main

    main(["--help"])
    out = capsys.readouterr().out
    assert "`" not in out and max(len(line) for line in out.splitlines()) <= 80
