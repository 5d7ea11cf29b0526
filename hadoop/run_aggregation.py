"""The original entry point, kept for the README's users: `python hadoop/run_aggregation.py --help`.
The same command is `count-aggregation` and `python -m hadoop` (see hadoop/cli.py)."""

import sys

from hadoop.cli import main

if __name__ == "__main__":
    sys.exit(main())
