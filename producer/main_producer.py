"""The original entry point, kept for the README's users: `python producer/main_producer.py --help`.
The same command is `image-producer` and `python -m producer` (see producer/cli.py)."""

import sys

from producer.cli import main

if __name__ == "__main__":
    sys.exit(main())
