"""``pro stage <verb> -f FILE``: run one stage from its resource file (the entrypoint a pod runs).

Runs under ``torchrun`` with any number of processes (``torchrun … -m pro stage reward -f F``); only rank 0
commits the artifact and prints the result.  The verbs and what each runs come from the kind table
(:mod:`pro.spec.kinds`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pro.errors import PERMANENT_EXIT, UserError
from pro.spec.kinds import stage_kind_of_verb, stage_kinds

if TYPE_CHECKING:
    from pro.spec.data import DataSnapshot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = stage_kinds()
    names = ", ".join(k.name for k in kinds)
    parser.description = (
        f"Run one stage from its resource file (kind {names}).\n"
        "Under torchrun every process runs this command; rank 0 commits the artifact."
    )
    parser.epilog = (
        "examples:\n"
        "  pro stage reward -f examples/toy/reward-helpfulness.yaml\n"
        "  # two processes, as a pod with nprocPerNode: 2 runs it\n"
        "  torchrun --standalone --nproc_per_node 2 \\\n"
        "    -m pro stage adapter -f examples/toy/adapter.yaml\n"
        "  pro stage align -f examples/toy/align-pro.yaml\n"
        "  pro stage eval -f examples/toy/eval.yaml"
    )
    parser.add_argument(
        "kind",
        choices=sorted({word for k in kinds for word in (k.verb or "", k.short)}),
        metavar="VERB",
        help=", ".join(f"{k.verb} ({k.name})" for k in kinds),
    )
    parser.add_argument(
        "-f",
        "--filename",
        "--spec",
        dest="spec",
        required=True,
        metavar="FILE",
        help="the stage resource (YAML)",
    )


def stage_snapshot(spec: Any) -> DataSnapshot:
    """The stage's pinned data: what its pipeline pinned, and every other data reference pinned now (a
    hand-written stage); a reference that resolves to nothing fails here, naming its field."""
    from pro.data import DataError
    from pro.data.objects import pin
    from pro.spec.data import iter_data_refs

    snapshot = dict(getattr(spec, "snapshot", {}) or {})
    for field, ref in iter_data_refs(spec):
        if ref not in snapshot:
            try:
                snapshot[ref] = pin(ref)
            except DataError as err:
                raise DataError(f"{field}: {err}") from None
    return snapshot


def paths_base(spec_file: str) -> str | None:
    """The directory the stage file's relative paths are relative to: its own; None for the file the
    operator mounts in a stage pod, whose relative paths are the pod's (its working directory)."""
    from pro.spec.conventions import SPEC_DIR, SPEC_KEY
    from pro.spec.kinds import file_dir

    return None if Path(spec_file) == Path(SPEC_DIR, SPEC_KEY) else file_dir(spec_file)


def run(args: argparse.Namespace) -> int:
    from pro.data.objects import pinned
    from pro.spec import load_file
    from pro.spec.paths import resolved
    from pro.stages.runtime import import_libraries

    kind = stage_kind_of_verb(args.kind)
    try:
        resource = load_file(args.spec, kind.model())
        base = paths_base(args.spec)
        if base is not None:
            resource = resolved(resource, base)
        with pinned(stage_snapshot(getattr(resource, "spec"))):  # noqa: B009 - reads only what is pinned
            import_libraries(kind.libraries)  # after the checks: a bad spec or data fails at once
            metrics = kind.run()(resource)
    except UserError as err:
        from pro.runs import transient

        if not transient(err):
            err.exit_code = PERMANENT_EXIT  # the runners fail the stage at once (see pro.errors)
        raise
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({"kind": kind.name, **metrics}, sort_keys=False))
    return 0
