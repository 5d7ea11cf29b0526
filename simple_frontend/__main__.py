"""`python -m simple_frontend`: the same command as `count-dashboard` (simple_frontend/cli.py)."""

import sys

from simple_frontend.cli import main

sys.exit(main())
