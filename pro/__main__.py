"""``python -m pro`` runs the CLI (the form torchrun uses: ``torchrun … -m pro stage …``)."""

import sys

from pro.cli import main

sys.exit(main())
