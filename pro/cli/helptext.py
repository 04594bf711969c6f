"""How ``--help`` reads: prose paragraphs wrapped to the terminal, examples and other indented lines kept as
written (so a command can be copied), for every verb and sub-verb alike."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter for descriptions and epilogs that mix prose and examples: a run of lines that
    start in column 0 is one paragraph, re-wrapped to the width; an indented line (an example, a list item)
    and a blank line are kept as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.extend(
                    textwrap.wrap(
                        " ".join(paragraph),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
                paragraph.clear()

        for line in text.strip("\n").splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line[0].isspace():
                flush()
                out.append(indent + line.rstrip())
            else:
                paragraph.append(line.strip())
        flush()
        return "\n".join(out)


def walk(parser: argparse.ArgumentParser, command: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``(command, parser)`` of ``parser`` (named ``command``) and of each of its sub-commands, recursively:
    ``("pro store", …), ("pro store put", …), …``."""
    yield command, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{command} {name}")


def use_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and each of its sub-commands' parsers the :class:`HelpFormatter`."""
    for _, found in walk(parser, parser.prog):
        found.formatter_class = HelpFormatter
