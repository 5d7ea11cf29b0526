"""The original entry point, kept for the README's users: `python consumer/main_consumer.py --help`.
The same command is `object-detector` and `python -m consumer` (see consumer/cli.py)."""

import sys

from consumer.cli import main

if __name__ == "__main__":
    sys.exit(main())
