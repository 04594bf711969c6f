"""``pro explain RESOURCE[.FIELD…]``: documentation of a spec field, like ``kubectl explain``."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  pro explain                              # list the kinds
  pro explain rmt                          # RewardModelTraining
  pro explain adapterTraining.spec.tau     # one field
  pro explain rmt.spec --recursive         # every field below spec
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument(
        "field", nargs="?", help="RESOURCE or RESOURCE.field.path (kind, plural or short name)"
    )
    parser.add_argument(
        "--recursive", action="store_true", help="list the fields of the fields (names and types)"
    )


def run(args: argparse.Namespace) -> int:
    from pro.spec.explain import explain
    from pro.spec.kinds import all_kinds, resolve

    if not args.field:
        print(f"{'NAME':<24}{'SHORTNAMES':<12}{'APIVERSION':<30}DESCRIPTION")
        for kind in all_kinds():
            print(f"{kind.plural:<24}{kind.short:<12}{'pro.alignment.dev/v1alpha1':<30}{kind.summary}")
        return 0
    resource, *path = args.field.split(".")
    kind = resolve(resource)
    print(explain(kind.model(), kind.name, path, recursive=args.recursive))
    return 0
