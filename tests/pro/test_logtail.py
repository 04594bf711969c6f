"""The reason a stage failed, taken from its log without torchrun's report."""

from __future__ import annotations

import pytest

from pro.logtail import failure_reason, stage_exit_code, tail

pytestmark = pytest.mark.unit

TORCHRUN_REPORT = """\
E1126 21:46:05.989000 6715 .venv/lib/python3.11/site-packages/torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 1) local_rank: 0 (pid: 6719) of binary: python3
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/venv/lib/python3.11/site-packages/torch/distributed/run.py", line 1032, in <module>
    main()
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
pro FAILED
------------------------------------------------------------
Failures:
  <NO_OTHER_FAILURES>
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-11-26_21:46:05
  host      : localhost
  rank      : 0 (local_rank: 0)
  exitcode  : 1 (pid: 6719)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


def test_the_stage_error_line_is_the_reason_not_torchruns_banner() -> None:
    log = "==== rm attempt 1\nloading data\nerror: data.path: x.jsonl: no such file\n" + TORCHRUN_REPORT
    assert failure_reason(log) == "data.path: x.jsonl: no such file"
    assert tail(log) == ["loading data", "error: data.path: x.jsonl: no such file"]


def test_a_crash_gives_the_exception_line_and_only_the_latest_attempt_counts() -> None:
    first = "==== rm attempt 1\nerror: old problem\n" + TORCHRUN_REPORT
    crash = (
        '==== rm attempt 2\nstep 3\nTraceback (most recent call last):\n  File "pro/stages/reward.py", line 9\n'
        "    train()\nRuntimeError: CUDA out of memory\n"
    )
    assert failure_reason(first + crash + TORCHRUN_REPORT) == "RuntimeError: CUDA out of memory"


def test_a_log_with_nothing_but_noise_gives_no_reason() -> None:
    assert failure_reason(TORCHRUN_REPORT) == ""
    assert failure_reason("") == ""


def test_the_stage_exit_code_is_the_one_torchrun_reports_for_its_worker() -> None:
    permanent = TORCHRUN_REPORT.replace("exitcode: 1)", "exitcode: 65)").replace(
        "exitcode  : 1 ", "exitcode  : 65 "
    )
    log = "==== rm attempt 1\nerror: x.jsonl: no such file\n" + TORCHRUN_REPORT
    assert stage_exit_code(log, 1) == 1
    assert stage_exit_code(log + "==== rm attempt 2\nerror: x.jsonl: no such file\n" + permanent, 1) == 65
    assert stage_exit_code(permanent.split("Traceback")[0], 1) == 65  # the agent's line alone
    assert stage_exit_code("error: no torchrun around it\n", 65) == 65  # the process's own code
    assert stage_exit_code("Killed\n", 137) == 137
