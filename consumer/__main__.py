"""`python -m consumer`: the same command as `object-detector` (consumer/cli.py)."""

import sys

from consumer.cli import main

sys.exit(main())
