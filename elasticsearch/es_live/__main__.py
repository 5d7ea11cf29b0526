"""`python -m es_live`: the same command as `live-indexer` (elasticsearch/es_live/cli.py)."""

import sys

from es_live.cli import main

sys.exit(main())
