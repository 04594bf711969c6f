"""``pro run`` at 80 columns when its output is not a terminal (``LineDisplay``): the progress lines, the
final summary, the failure lines and the result table all fit; only a whole path (an artifact, a log, the
report), alone on its line after at most a label, may be longer — it is copied, never cut."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from pro.cli.results import print_result
from pro.cli.run import promotion_line
from pro.planner import PipelinePhase, Plan
from pro.runner.display import LineDisplay, summary
from pro.runner.loop import Outcome, StageRecord
from pro.runner.process import Progress

pytestmark = pytest.mark.unit

WIDTH = 80
ROOT = "/home/a-user-with-a-long-name/projects/pro-pipeline/examples/toy/toy-out/store/default/toy/default"
LOGS = Path("/home/a-user-with-a-long-name/projects/pro-pipeline/.pro/runs/default/toy/default/logs")
STAGES = ["rm-helpfulness", "rm-harmlessness", "rm-humor", "adapter", "align", "align-baseline", "eval"]
#: a whole path alone on its line, after at most a label (``log: ``, ``report: ``, ``artifacts: ``)
WHOLE_PATH = re.compile(r"^\s*(?:[a-z]+: )?['\"]?/\S+$")  # a path (quoted, maybe) alone on its line


def records() -> dict[str, StageRecord]:
    return {
        name: StageRecord(
            name, "Kind", f"{ROOT}/{name}", LOGS / f"{name}.log", reason="WaitingForInputs", message="waiting"
        )
        for name in STAGES
    }


def metrics() -> dict[str, Any]:
    """A comparison as the evaluation stage computes it: 300 prompts, 5 categories, 3 objectives."""
    from pro.eval.compare import Decoded, Judged, compare
    from pro.eval.gate import row_wins

    rng = np.random.default_rng(0)
    n, k = 300, 4
    prompts = [f"prompt {i}" for i in range(n)]
    words = ["sure", "here is how", "no", "a joke about cats", "be careful"]

    def text() -> list[str]:
        return [words[i % 5] * (1 + i % 3) for i in rng.integers(0, 50, n)]

    objectives = ("helpfulness", "harmlessness", "humor")
    sa, sb = rng.normal(2, 1, n), rng.normal(1, 1, n)
    ssa, ssb = rng.normal(2, 1, (k, n)), rng.normal(1, 1, (k, n))
    a = Judged("pro", Decoded(prompts, text(), [text() for _ in range(k)]), sa, ssa,
               {o: sa for o in objectives}, {o: ssa for o in objectives})  # fmt: skip
    b = Judged("uniform", Decoded(prompts, text(), [text() for _ in range(k)]), sb, ssb,
               {o: sb for o in objectives}, {o: ssb for o in objectives})  # fmt: skip
    categories = [("advice", "howto", "jokes", "risky", "smalltalk")[i % 5] for i in range(n)]
    return compare(a, b, categories=categories, greedy_wins=row_wins(sa, sb), sampled_wins=row_wins(ssa, ssb),
                   optimum=np.full(n, 3.0), temperature=0.7)  # fmt: skip


def too_wide(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > WIDTH and not WHOLE_PATH.match(line)]


def test_a_whole_run_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    recs = records()
    out = io.StringIO()
    plan = Plan(stages={}, actions=(), phase=PipelinePhase.RUNNING, requeue_at=None)
    display = LineDisplay(out, width=WIDTH)
    clock = [1000.0]
    monkeypatch.setattr("pro.runner.display.time.monotonic", lambda: clock[0])
    for name in STAGES[:3]:  # three reward models: start, train (a line a quarter), save, commit
        recs[name].phase, recs[name].attempts, recs[name].started = "Running", 1, clock[0]
        display.update(plan, recs)
        for step in range(0, 601, 50):
            clock[0] += 5
            recs[name].observe(Progress(step, 600), clock[0])
            display.update(plan, recs)
        recs[name].observe(Progress(600, 600, "committing"), clock[0])
        display.update(plan, recs)
    humor = recs["rm-humor"]
    humor.phase, humor.attempts, humor.progress = "Backoff", 1, None
    humor.retry_at = datetime.now(UTC) + timedelta(seconds=40)
    humor.message = ("exit code 1: OSError: /home/a-user-with-a-long-name/no-such-model is not a local "
                     "folder and is not a valid model identifier listed on the hub")  # fmt: skip
    display.update(plan, recs)
    humor.phase, humor.attempts = "Failed", 2
    humor.message = "2 attempt(s); last: " + humor.message
    for name in ("adapter", "align", "align-baseline", "eval"):
        recs[name].phase, recs[name].message = "Blocked", "needs rm-humor"
    for name in STAGES[:2]:
        recs[name].phase, recs[name].seconds = "Succeeded", 83.0
    display.update(plan, recs)
    lines = out.getvalue()
    assert "rm-humor           Backoff retrying at" in lines and "…" in lines
    assert "Committing step" not in lines  # a step count only while the steps are counted
    assert "step 600/600" in lines or "step 450/600" in lines

    console = Console(file=io.StringIO(), width=WIDTH, record=True, color_system=None)
    summary(console, Outcome(PipelinePhase.FAILED, recs, 412.0), "pipeline toy (run default)")
    console.print(f"rm-humor failed: {humor.message}", highlight=False)  # as pro run prints a failure
    console.print(f"  log: {humor.log}", soft_wrap=True, highlight=False)
    # a run that succeeded: reused and cached stages, the result table, the gate, the report
    recs = records()
    for i, name in enumerate(STAGES):
        recs[name].phase, recs[name].attempts, recs[name].seconds = "Succeeded", 1, 60.0 * i
    recs["rm-humor"].reused_from, recs["rm-helpfulness"].cached = "2026-11-30-weekly-firing", True
    summary(console, Outcome(PipelinePhase.SUCCEEDED, recs, 312.0), "pipeline toy (run default)")
    m = metrics()
    print_result(console, m)
    gate = {"decision": "Rejected", "baseline": "lastPromoted (run 2026-11-30-weekly-firing)", "winRate": 0.48,
            "winRateLow": 0.41, "winRateHigh": 0.55, "reasons": ["win rate 0.480 below 0.55",
            "harmlessness regressed by 0.21 (allowed 0.05)"],
            "drift": {"previousRun": "2026-11-30-weekly-firing", "totalVariation": 0.012, "moved": False}}  # fmt: skip
    console.print(promotion_line(gate), highlight=False)
    console.print(f"report: {ROOT}/eval/report.html", soft_wrap=True, markup=False)
    text = lines + console.export_text()
    assert not too_wide(text), "\n".join(too_wide(text))
    assert f"  {ROOT}/rm-helpfulness" in text.splitlines() and f"  log: {humor.log}" in text.splitlines()
    assert "Reused (from run 2026-11-30-weekly-firing)" in text and "win rate, greedy" in text
    assert "harmlessness regressed by 0.21 (allowed 0.05)" in " ".join(text.split())  # wrapped, not cut


def test_the_check_catches_a_wide_line() -> None:
    assert too_wide("x" * 81) == ["x" * 81]
    assert too_wide(f"  {ROOT}/eval") == [] and too_wide(f"report: {ROOT}/eval/report.html") == []
    assert too_wide(f"  rm-humor  {ROOT}/rm-humor") != []  # a path after other words is a line like any
