"""`python -m archiver`: the same command as `detection-archiver` (archiver/cli.py)."""

import sys

from archiver.cli import main

sys.exit(main())
