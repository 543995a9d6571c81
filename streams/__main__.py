"""Entry point: ``python -m streams --help``."""

import sys

from streams.cli.main import main

sys.exit(main())
