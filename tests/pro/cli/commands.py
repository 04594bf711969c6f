"""The ``pro`` commands a text shows (Markdown fenced blocks, ``--help`` examples), and whether each parses."""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
from dataclasses import dataclass

from pro.cli import _BY_NAME, build_parser

#: words that start a shell segment before its command (``for …; do pro …; done``)
_KEYWORDS = {"do", "then", "else", "time", "!"}
_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}


@dataclass(frozen=True)
class Command:
    """One ``pro`` command line: its arguments after ``pro`` and where it was found."""

    args: tuple[str, ...]
    where: str

    def __str__(self) -> str:
        return f"{self.where}: pro {shlex.join(self.args)}"


def fenced_blocks(
    markdown: str, languages: tuple[str, ...] = ("bash", "sh", "shell", "console")
) -> list[tuple[int, str]]:
    """``(line, text)`` of every fenced code block in one of ``languages`` (line: its first, 1-based)."""
    out: list[tuple[int, str]] = []
    language: str | None = None
    body: list[str] = []
    start = 0
    for i, line in enumerate(markdown.splitlines(), 1):
        if not line.lstrip().startswith("```"):
            body.append(line)
        elif language is None:
            language, body, start = line.lstrip()[3:].strip(), [], i + 1
        else:
            if language in languages:
                out.append((start, "\n".join(body)))
            language = None
    return out


def shell_lines(text: str) -> list[tuple[int, str]]:
    """``(offset, line)`` of ``text`` with backslash continuations joined (offset: its first line, 0-based)."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for i, line in enumerate(text.splitlines()):
        if not pending:
            start = i
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def pro_commands(text: str, where: str) -> list[Command]:
    """The ``pro …`` invocations in shell ``text`` (also ``python -m pro …`` and ``torchrun … -m pro …``)."""
    found = []
    for offset, line in shell_lines(text):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        tokens = list(lexer)
        segments: list[list[str]] = [[]]
        for token in tokens:
            if token in _SEPARATORS:
                segments.append([])
            else:
                segments[-1].append(token)
        for words in segments:
            start = 0
            while start < len(words) and words[start] in _KEYWORDS:
                start += 1
            segment = words[start:]
            args: list[str] | None = None
            if segment[:1] == ["pro"]:
                args = segment[1:]
            else:
                for i in range(len(segment) - 1):
                    if segment[i : i + 2] == ["-m", "pro"]:
                        args = segment[i + 2 :]
                        break
            if args is not None:
                found.append(Command(tuple(args), f"{where}+{offset}"))
    return found


def parse_error(command: Command) -> str | None:
    """What argparse says against the command (None: it parses as written)."""
    if not command.args or command.args[0] in ("-h", "--help", "--version"):
        return None
    verb = _BY_NAME.get(command.args[0])
    if verb is None:
        return f"no verb {command.args[0]!r}"
    parser: argparse.ArgumentParser = build_parser(verb)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(list(command.args[1:]))
    except SystemExit as exit_:
        if exit_.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


def spec_files(command: Command) -> list[str]:
    """The files a command reads as its spec (``-f``, ``--filename``, ``--spec``)."""
    args = command.args
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-f", "--filename", "--spec")]
