"""Export the JSON Schema of every record on the wire.

Run ``python -m schemas export`` after changing a model in ``schemas/`` and commit what it
writes to ``schemas/json/``. ``python -m schemas export --check`` writes nothing and exits 1
when the files there are not what an export would write (for hooks).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.json_schema import JSON_DIR, SCHEMA_VERSION, differences, write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write schemas/json/<record>.schema.json")
    export.add_argument(
        "--out", type=Path, default=JSON_DIR, help="directory to write (default: %(default)s)"
    )
    export.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are stale"
    )
    args = parser.parse_args(argv)

    if args.check:
        stale = differences(args.out)
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        if stale:
            print("run: python -m schemas export", file=sys.stderr)
        return 1 if stale else 0
    changed = write(args.out)
    for path in changed:
        print(f"wrote {path}" if path.exists() else f"removed {path}")
    print(f"schema version {SCHEMA_VERSION}: {len(changed)} file(s) changed in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
