"""``pro run``: a pipeline on this machine — the planner's actions carried out with local processes.

Each stage runs through the same entrypoint a pod runs (``torchrun --standalone … -m pro stage``),
reading its stage resource from a file; what is committed in the store decides what is done, so a
second ``pro run`` skips committed stages and resumes the rest.
"""

from pro.runner.loop import Outcome, RunOptions, run_pipeline

__all__ = ["Outcome", "RunOptions", "run_pipeline"]
