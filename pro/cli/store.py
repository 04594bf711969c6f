"""``pro store put|get|ls|verify|rm``: artifacts under s3://, file:// and local paths."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

_DESCRIPTION = """Artifacts: a directory of files committed by manifest.json (written last) under s3://, file:// or a
local path.  Sub-commands: put, get, ls, verify, rm (pro store SUB --help for each).

S3 settings follow boto3's standard chain (AWS_ENDPOINT_URL[_S3], AWS_REGION, AWS_PROFILE,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web identity); every sub-command's --endpoint-url and --region
override the first two."""

_EXAMPLES = """examples:
  pro store put ./checkpoint s3://bucket/runs/ns/pipe/run1/rm
  pro store get s3://bucket/runs/ns/pipe/run1/rm ./rm
  pro store ls s3://bucket/runs/ns/pipe
  pro store verify file:///data/artifacts/run1/rm
  pro store rm file:///data/artifacts/run1/rm
"""

#: each sub-command: (summary, description, example)
_SUBS = {
    "put": (
        "store a directory as an artifact (manifest last)",
        "Upload every file of SRC_DIR to URI and commit it with manifest.json (sizes and sha256), written last.\n"
        "Resumable: a retry sends only what is missing; putting identical files again changes nothing.",
        "pro store put ./checkpoint s3://bucket/runs/ns/pipe/run1/rm",
    ),
    "get": (
        "download and verify an artifact",
        "Download the artifact at URI into DST_DIR, checking every byte against its manifest; a second get of\n"
        "the same artifact comes from the local cache (verified).",
        "pro store get s3://bucket/runs/ns/pipe/run1/rm ./rm",
    ),
    "ls": (
        "list the committed artifacts under a prefix",
        "List every committed artifact under URI: its files, size, producer and commit time.",
        "pro store ls s3://bucket/runs/ns/pipe",
    ),
    "verify": (
        "re-read every file and check it (exit 1 if bad)",
        "Re-read every file of the artifact at URI and compare it with the manifest; exit 1 listing the bad files.",
        "pro store verify file:///data/artifacts/run1/rm",
    ),
    "rm": (
        "delete an artifact (manifest first)",
        "Delete the artifact at URI: its manifest first (it stops existing for readers), then its files.",
        "pro store rm file:///data/artifacts/run1/rm",
    ),
}


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _common(*, transfers: bool) -> argparse.ArgumentParser:
    """The store settings every sub-command takes; ``transfers``: also the transfer tuning (put, get,
    verify) and the cache and progress flags."""
    from pro.store.config import StoreConfig

    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("store settings")
    g.add_argument(
        "--endpoint-url", help="S3 endpoint (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS)"
    )
    g.add_argument("--region", help="S3 region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)")
    g.add_argument(
        "--addressing-style",
        choices=["auto", "path", "virtual"],
        help="S3 addressing style (default: PRO_S3_ADDRESSING_STYLE or auto)",
    )
    if not transfers:
        return p
    d = StoreConfig()
    g.add_argument(
        "--max-concurrency",
        type=int,
        default=d.max_concurrency,
        help=f"parallel requests (default {d.max_concurrency})",
    )
    g.add_argument(
        "--chunk-size-mb",
        type=int,
        default=d.multipart_chunksize_mb,
        help=f"multipart part size in MiB (default {d.multipart_chunksize_mb})",
    )
    g.add_argument(
        "--multipart-threshold-mb",
        type=int,
        default=d.multipart_threshold_mb,
        help=f"multipart from this size in MiB (default {d.multipart_threshold_mb})",
    )
    g.add_argument(
        "--cache-dir", type=Path, help="local cache (default: PRO_CACHE_DIR or ~/.cache/pro/artifacts)"
    )
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on large transfers (default: when stderr is a terminal)",
    )
    return p


def _sub(sub: Any, name: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    summary, description, example = _SUBS[name]
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        parents=[common],
        help=summary,
        description=description,
        epilog=f"examples:\n  {example}",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = _DESCRIPTION
    parser.epilog = _EXAMPLES
    moving, listing = _common(transfers=True), _common(transfers=False)
    sub = parser.add_subparsers(dest="action", required=True, metavar="{put,get,ls,verify,rm}")
    put = _sub(sub, "put", moving)
    put.add_argument("src_dir", type=Path, metavar="SRC_DIR")
    put.add_argument("uri", metavar="URI")
    put.add_argument("--kind", default="Manual", help="producer stage kind recorded in the manifest")
    put.add_argument("--name", default="cli", help="producer stage name recorded in the manifest")
    put.add_argument(
        "--work-digest", default="", help="the producing stage's work digest (recorded in the manifest)"
    )
    get = _sub(sub, "get", moving)
    get.add_argument("uri", metavar="URI")
    get.add_argument("dst_dir", type=Path, metavar="DST_DIR")
    _sub(sub, "ls", listing).add_argument("uri", metavar="URI")
    _sub(sub, "verify", moving).add_argument("uri", metavar="URI")
    _sub(sub, "rm", listing).add_argument("uri", metavar="URI")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, so the handler stays valid after
    the command returns (later in-process callers, tests that swap stderr)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def run(args: argparse.Namespace) -> int:
    from pro.store import (
        Producer,
        StoreConfig,
        delete_artifact,
        get_artifact,
        list_artifacts,
        put_artifact,
        verify_artifact,
    )

    log = logging.getLogger("pro.store")
    log.handlers = [h for h in log.handlers if not getattr(h, "pro_cli", False)]
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.pro_cli = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    defaults = StoreConfig()
    config = StoreConfig(
        endpoint_url=args.endpoint_url,
        region=args.region,
        addressing_style=args.addressing_style,
        multipart_threshold_mb=getattr(args, "multipart_threshold_mb", defaults.multipart_threshold_mb),
        multipart_chunksize_mb=getattr(args, "chunk_size_mb", defaults.multipart_chunksize_mb),
        max_concurrency=getattr(args, "max_concurrency", defaults.max_concurrency),
    )
    if getattr(args, "cache_dir", None) is not None:
        config.cache_dir = args.cache_dir
    wanted = getattr(args, "progress", None)
    progress = sys.stderr.isatty() if wanted is None else wanted

    if args.action == "put":
        m = put_artifact(
            args.src_dir,
            args.uri,
            producer=Producer(args.kind, args.name),
            work_digest=args.work_digest,
            config=config,
            progress=progress,
        )
        print(f"committed {args.uri}: {len(m.files)} files, {_human(m.total_size)}, manifest {m.digest[:12]}")
    elif args.action == "get":
        out = get_artifact(args.uri, args.dst_dir, config=config, progress=progress)
        print(f"{out}: {args.uri} downloaded and verified")
    elif args.action == "ls":
        found = list_artifacts(args.uri, config=config)
        if not found:
            print(f"no artifacts under {args.uri}")
        for uri, m in found:
            producer = f"{m.producer.kind}/{m.producer.name}"
            print(f"{uri}\t{len(m.files)} files\t{_human(m.total_size)}\t{producer}\t{m.created}")
    elif args.action == "verify":
        problems = verify_artifact(args.uri, config=config)
        if problems:
            print(f"error: {args.uri} failed verification ({len(problems)} bad):", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"ok {args.uri}")
    elif args.action == "rm":
        delete_artifact(args.uri, config=config)
        print(f"deleted {args.uri}")
    return 0
