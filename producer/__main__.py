"""`python -m producer`: the same command as `image-producer` (producer/cli.py)."""

import sys

from producer.cli import main

sys.exit(main())
