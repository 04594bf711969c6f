"""pro-pipeline: Preference Orchestrator (PRO) multi-objective alignment, locally and on Kubernetes.

Import is cheap: nothing here loads torch.  Heavy modules import their ML stack on use.
"""

from pro.version import __version__

__all__ = ["__version__"]
