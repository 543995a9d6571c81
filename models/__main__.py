"""``python -m models train|evaluate ...``: see :mod:`models.cli` for usage."""

import sys

from models.cli import main

sys.exit(main())
