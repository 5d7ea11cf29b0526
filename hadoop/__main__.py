"""`python -m hadoop`: the same command as `count-aggregation` (hadoop/cli.py)."""

import sys

from hadoop.cli import main

sys.exit(main())
