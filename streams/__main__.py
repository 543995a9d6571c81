"""Entry point: ``python -m streams --help``."""

import sys

from streams.cli import main

sys.exit(main())
