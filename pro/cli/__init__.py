"""The ``pro`` command line: a verb table, lazy imports, and one error policy.

Each verb lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``.  Only the module of the verb being run is imported, so
``pro --help`` and light verbs start without loading torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pro.cli.helptext import use_everywhere
from pro.errors import UserError
from pro.version import __version__


@dataclass(frozen=True)
class Verb:
    """One ``pro`` verb: where it lives and how ``pro --help`` lists it."""

    name: str
    group: str
    summary: str
    module: str


VERBS: tuple[Verb, ...] = (
    Verb("run", "Pipeline", "Run a pipeline on this machine", "pro.cli.run"),
    Verb(
        "validate", "Pipeline", "Check a pipeline file and report every problem at once", "pro.cli.validate"
    ),
    Verb("explain", "Pipeline", "Show the documentation of a spec field", "pro.cli.explain"),
    Verb("render", "Pipeline", "Print the Kubernetes objects the operator would create", "pro.cli.render"),
    Verb("status", "Pipeline", "Show a local run's stages (while it runs, or after)", "pro.cli.status"),
    Verb("logs", "Pipeline", "Print a local run's stage log (-f: follow it)", "pro.cli.logs"),
    Verb("stage", "Pipeline", "Run one stage (the entrypoint a pod runs under torchrun)", "pro.cli.stage"),
    Verb(
        "store", "Artifacts", "Put, get, list and verify artifacts (s3://, file://, paths)", "pro.cli.store"
    ),
    Verb("weights", "Models", "Predict per-prompt objective weights with an adapter", "pro.cli.weights"),
    Verb("generate", "Models", "Generate completions with a policy and adapter weights", "pro.cli.generate"),
    Verb("eval", "Models", "Compare two policies: win rate, rewards, report", "pro.cli.eval"),
    Verb("promoted", "Runs", "Show the policy a schedule or pipeline has in production", "pro.cli.promoted"),
    Verb("drift", "Runs", "Show how the adapter's weights moved across runs", "pro.cli.drift"),
    Verb("toy", "Models", "Generate the toy world (data with a known answer)", "pro.cli.toy"),
    Verb("demo", "Other", "Run the embedded default end to end on this machine", "pro.cli.demo"),
    Verb("version", "Other", "Print the versions of pro and its main libraries", "pro.cli.version"),
)

_BY_NAME = {v.name: v for v in VERBS}


def _top_help() -> str:
    lines = ["pro runs PRO multi-objective alignment pipelines here and on Kubernetes.", ""]
    groups: dict[str, list[Verb]] = {}
    for verb in VERBS:
        groups.setdefault(verb.group, []).append(verb)
    for group, verbs in groups.items():
        lines.append(f"{group} commands:")
        for v in verbs:
            lines.append(f"  {v.name:<10}  {v.summary}")
        lines.append("")
    lines += [
        "Usage:",
        "  pro [command] [flags]",
        "",
        "Flags:",
        "  -h, --help     help for pro",
        "      --version  print the version",
        "      --debug    show tracebacks for errors (or PRO_DEBUG=1)",
        "",
        'Use "pro <command> --help" for more information about a command.',
    ]
    return "\n".join(lines)


def build_parser(verb: Verb) -> argparse.ArgumentParser:
    """The parser of one verb, importing only that verb's module."""
    parser = argparse.ArgumentParser(
        prog=f"pro {verb.name}",
        description=verb.summary + ".",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    importlib.import_module(verb.module).add_arguments(parser)
    use_everywhere(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pro`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("PRO_DEBUG", "") not in ("", "0")
    if "--debug" in args[:1]:
        debug, args = True, args[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        print(_top_help())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"pro {__version__}")
        return 0
    verb = _BY_NAME.get(args[0])
    if verb is None:
        print(f'error: unknown command "{args[0]}" for "pro"', file=sys.stderr)
        print("Run 'pro --help' for usage.", file=sys.stderr)
        return 2
    parser = build_parser(verb)
    ns = parser.parse_args(args[1:])
    debug = debug or ns.debug
    try:
        code: int = importlib.import_module(verb.module).run(ns)
        sys.stdout.flush()  # here, not at exit: a reader that left (| head) is a broken pipe caught below
        return code
    except UserError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pro … | head`: the reader left; nothing more to say, no traceback
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python's final flush of a closed pipe would raise again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
