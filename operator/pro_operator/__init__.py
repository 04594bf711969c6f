"""The pro-pipeline Kubernetes operator (kopf controllers).

Importable without torch: the operator ships in a slim image (requirements/operator.txt).
"""

from pro.version import __version__

__all__ = ["__version__"]
