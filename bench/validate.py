"""Reading spec files (#18 item 12): the loader against main's, and ``pro validate`` on the corpus.

    .venv/bin/python bench/validate.py [--base b7bf93e] [--timeout 60]

Baseline, measured in the same run: the YAML loader of commit ``--base`` (``pro/spec/loader.py`` as it was,
loaded from git into a scratch module): pure-Python PyYAML, the text parsed twice, aliases walked expanded.
Each input is read by each loader in a fresh process (``load_text``; this branch: ``read_documents``, which
also decodes and caps the size), timed from before the read to after it, with the process's peak RSS;
a process past ``--timeout`` seconds is stopped and shown as such.  Inputs: a 1.4 MB spec (under the cap),
a 5.8 MB one (over it), a 399-byte alias bomb (9 levels of 9 aliases).  Then ``pro validate --offline``
in-process on every file of the malformed-input corpus: the slowest and the median file.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "pro" / "spec" / "corpus"

READ = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import {module} as loader
text_path = sys.argv[2]
t0 = time.perf_counter()
try:
    {call}
    outcome = "read"
except Exception as err:
    outcome = type(err).__name__ + ": " + str(err).splitlines()[-1].strip()[:70]
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "outcome": outcome}}))
"""
OLD = READ.format(
    module="old_loader", call="loader.load_text(open(text_path, encoding='utf-8').read(), text_path)"
)
NEW = READ.format(module="pro.spec.loader", call="loader.read_documents(text_path)")


def inputs(work: Path) -> dict[str, Path]:
    """The large specs and the alias bomb."""
    base = (CORPUS / "cases" / "p-valid.yaml").read_text()
    flow = "      config: {modelType: bert, hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64}\n"

    def padded(size: int) -> str:  # a valid spec whose reward model carries a big free-form config
        lines = [f"        key{i:07d}: value-{i:07d}\n" for i in range(size // 34)]
        return base.replace(flow, "      config:\n        modelType: bert\n" + "".join(lines), 1)

    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    out = {
        "spec 1.4 MB": padded(1_400_000),
        "spec 5.8 MB": padded(5_800_000),
        f"alias bomb {len(bomb)} B": bomb,
    }
    paths = {}
    for name, text in out.items():
        path = work / (name.replace(" ", "-") + ".yaml")
        path.write_text(text)
        paths[f"{name} ({path.stat().st_size / 1e6:.1f} MB)" if "bomb" not in name else name] = path
    return paths


def run(code: str, path: Path, python_path: str, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": python_path}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, python_path, str(path)],
            capture_output=True, text=True, env=env, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"seconds": timeout, "peak_mb": float("nan"), "outcome": f"stopped after {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": float("nan"), "peak_mb": float("nan"), "outcome": f"crashed: {last[:70]}"}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def corpus_times() -> list[tuple[str, float, int]]:
    """``pro validate --offline`` in-process on each corpus file: (name, seconds, exit code)."""
    from pro.cli import main

    os.chdir(CORPUS)
    out = []
    for path in sorted((CORPUS / "cases").glob("*.yaml")):
        t0 = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            code = main(["validate", "--offline", "-f", f"cases/{path.name}"])
        out.append((path.stem, time.perf_counter() - t0, code))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="b7bf93e", help="the commit whose loader is the baseline")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        work = Path(tmp)
        old = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{args.base}:pro/spec/loader.py"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (work / "old_loader.py").write_text(old)
        old_path = f"{work}{os.pathsep}{REPO}"
        print(
            f"| input | loader at {args.base}: s, peak MB | this branch: s, peak MB | ratio (s) | this branch says |"
        )
        print("|---|---|---|---|---|")
        for name, path in inputs(work).items():
            before = run(OLD, path, old_path, args.timeout)
            after = run(NEW, path, str(REPO), args.timeout)
            ratio = float(before["seconds"]) / float(after["seconds"])  # type: ignore[arg-type]
            at_least = "> " if str(before["outcome"]).startswith("stopped") else ""
            print(
                f"| {name} | {before['seconds']:.2f}, {before['peak_mb']:.0f} ({before['outcome']}) "
                f"| {after['seconds']:.3f}, {after['peak_mb']:.0f} | {at_least}{ratio:.0f}x | {after['outcome']} |"
            )
    times = corpus_times()
    seconds = [s for _, s, _ in times]
    slowest = max(times, key=lambda t: t[1])
    invalid = sum(1 for _, _, code in times if code != 0)
    print(
        f"\npro validate --offline, in-process, {len(times)} corpus files ({invalid} invalid): "
        f"median {statistics.median(seconds) * 1000:.1f} ms, slowest {slowest[1] * 1000:.1f} ms ({slowest[0]}), "
        f"total {sum(seconds):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
