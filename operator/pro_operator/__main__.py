"""``python -m pro_operator`` / ``pro-operator``: start the operator."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the operator; the controllers arrive with issue #7."""
    print("pro-operator: not implemented yet (issue #7)", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
