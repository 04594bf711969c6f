"""``pro version``: the versions of pro and of the libraries it runs on."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json

from pro.version import __version__

LIBRARIES = (
    "torch", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed",
    "kubernetes", "kopf", "urllib3", "boto3", "pydantic",
)  # fmt: skip


def versions() -> dict[str, str | None]:
    """Installed version of each library (None when it is not installed)."""
    found: dict[str, str | None] = {"pro-pipeline": __version__}
    for name in LIBRARIES:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = None
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  pro version\n  pro version -o json"
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    found = versions()
    if args.output == "json":
        print(json.dumps(found, indent=2))
    else:
        for name, ver in found.items():
            print(f"{name:<18} {ver or 'not installed'}")
    return 0
