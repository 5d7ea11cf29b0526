"""`python -m scheduler`: the same command as `batch-scheduler` (scheduler/cli.py)."""

import sys

from scheduler.cli import main

sys.exit(main())
