"""`python -m es_indexer`: the same command as `count-indexer` (elasticsearch/es_indexer/cli.py)."""

import sys

from es_indexer.cli import main

sys.exit(main())
