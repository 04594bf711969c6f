"""Artifact store throughput against a loopback S3 server (moto, own process), ours vs ``aws s3 cp``.

    .venv/bin/python bench/store.py                 # ~1 GiB in 8 shards, 3 rounds, best of each
    .venv/bin/python bench/store.py --size-mb 128   # quicker

Each tool runs with its defaults.  Ours with full integrity checking: the sha256 of every file sent
(a file changing meanwhile is refused), the journal, the manifest written last; ``get`` verifies every
byte and fills the cache.  awscli checks CRC32 in transit but keeps no manifest.  Both talk to the same
server in the same run; the server is reset between measurements.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from pro.store import Producer, StoreConfig, get_artifact, put_artifact
from pro.testing.s3server import S3Server

MIB = 1024 * 1024


def find_aws(explicit: str | None) -> str | None:
    for cand in (
        explicit,
        str(Path(sys.executable).with_name("aws")),
        shutil.which("aws"),
        "/tmp/trialvenv/bin/aws",
    ):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def make_checkpoint(root: Path, size_mb: int, shards: int) -> int:
    root.mkdir(parents=True)
    per = size_mb * MIB // shards
    block = os.urandom(8 * MIB)
    for i in range(shards):
        with (root / f"model-{i + 1:05d}-of-{shards:05d}.safetensors").open("wb") as f:
            left = per
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
            f.write(os.urandom(64))  # shards differ
    (root / "config.json").write_text('{"model_type": "synthetic"}')
    return sum(p.stat().st_size for p in root.iterdir())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024, help="checkpoint size in MiB (default 1024)")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="measurements per tool and direction; best is kept")
    ap.add_argument("--max-concurrency", type=int, default=StoreConfig.max_concurrency)
    ap.add_argument("--chunk-size-mb", type=int, default=StoreConfig.multipart_chunksize_mb)
    ap.add_argument("--multipart-threshold-mb", type=int, default=StoreConfig.multipart_threshold_mb)
    ap.add_argument(
        "--aws", help="path of the aws executable (default: next to python, PATH, /tmp/trialvenv)"
    )
    args = ap.parse_args()

    aws = find_aws(args.aws)
    work = Path(tempfile.mkdtemp(prefix="pro-bench-store-"))
    try:
        total = make_checkpoint(work / "src", args.size_mb, args.shards)
        os.sync()  # no write-back of the fresh checkpoint during the first measurement
        with S3Server(log_path=work / "moto.log") as server:
            env = server.client_env()
            os.environ.update(env)
            s3 = boto3.client("s3")
            cfg = StoreConfig(
                multipart_chunksize_mb=args.chunk_size_mb,
                multipart_threshold_mb=args.multipart_threshold_mb,
                max_concurrency=args.max_concurrency,
            )
            best: dict[tuple[str, str], tuple[float, float]] = {}  # (seconds, client CPU seconds)

            def record(tool: str, direction: str, seconds: float, cpu: float) -> None:
                old = best.get((tool, direction))
                best[(tool, direction)] = (min(seconds, old[0]), min(cpu, old[1])) if old else (seconds, cpu)
                mbps = total / MIB / seconds
                print(
                    f"  {tool:<6} {direction:<4} {seconds:6.2f} s  {mbps:7.1f} MiB/s  cpu {cpu:5.2f} s",
                    file=sys.stderr,
                )

            def cpu_now(children: bool) -> float:
                ru = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
                return ru.ru_utime + ru.ru_stime

            def ours(src: Path, dst: Path) -> list[tuple[float, float]]:
                cfg.cache_dir = work / "cache"
                uri = "s3://bench/ns/pipe/run/stage"
                producer = Producer("Bench", "store")
                out = []
                for step in (
                    lambda: put_artifact(src, uri, producer=producer, work_digest="", config=cfg),
                    lambda: get_artifact(uri, dst, config=cfg),
                ):
                    t0, c0 = time.perf_counter(), cpu_now(False)
                    step()
                    out.append((time.perf_counter() - t0, cpu_now(False) - c0))
                shutil.rmtree(cfg.cache_dir, ignore_errors=True)
                return out

            def awscli(src: Path, dst: Path) -> list[tuple[float, float]]:
                assert aws is not None
                base = [aws, "s3", "cp", "--recursive", "--only-show-errors"]
                out = []
                for cmd in ([*base, str(src), "s3://bench/aws/"], [*base, "s3://bench/aws/", str(dst)]):
                    t0, c0 = time.perf_counter(), cpu_now(True)
                    subprocess.run(cmd, check=True)
                    out.append((time.perf_counter() - t0, cpu_now(True) - c0))
                return out

            tools = {"ours": ours, "awscli": awscli} if aws else {"ours": ours}
            make_checkpoint(work / "warm", 8, 1)
            for fn in tools.values():  # warm-up: imports, connections, the server's first requests
                s3.create_bucket(Bucket="bench")
                fn(work / "warm", work / "warm-dst")
                server.reset()
            for r in range(args.rounds):
                order = list(tools.items()) if r % 2 == 0 else list(tools.items())[::-1]
                for tool, fn in order:
                    server.reset()
                    s3.create_bucket(Bucket="bench")
                    dst = work / f"dst-{tool}-{r}"
                    (put_s, put_c), (get_s, get_c) = fn(work / "src", dst)
                    record(tool, "put", put_s, put_c)
                    record(tool, "get", get_s, get_c)
                    shutil.rmtree(dst, ignore_errors=True)

        print(
            f"\nArtifact store, {total / MIB:.0f} MiB in {args.shards} shards, loopback moto S3 "
            f"(ours: multipart from {cfg.multipart_threshold_mb} MiB in {cfg.multipart_chunksize_mb} MiB parts, "
            f"concurrency {cfg.max_concurrency}; awscli: its defaults), best of {args.rounds}"
        )
        print("| direction | ours (MiB/s) | aws s3 cp (MiB/s) | ratio | client CPU s, ours / aws |")
        print("|---|---:|---:|---:|---:|")
        for direction in ("put", "get"):
            ours_s, ours_c = best[("ours", direction)]
            theirs = best.get(("awscli", direction))
            mine = total / MIB / ours_s
            if theirs:
                other = total / MIB / theirs[0]
                print(
                    f"| {direction} | {mine:.1f} | {other:.1f} | {mine / other:.2f}x | {ours_c:.1f} / {theirs[1]:.1f} |"
                )
            else:
                print(f"| {direction} | {mine:.1f} | n/a (no awscli) | n/a | {ours_c:.1f} / n/a |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
