"""The toy world: a small synthetic preference world with a known answer (hidden per-category weights).

Importing this package loads no ML library.
"""

from pro.toy.oracle import oracle_targets
from pro.toy.world import World

__all__ = ["World", "oracle_targets"]
