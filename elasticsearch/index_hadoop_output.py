"""The original entry point, kept for the README's users: `python elasticsearch/index_hadoop_output.py --help`.
The same command is `count-indexer` and `python -m es_indexer` (see elasticsearch/es_indexer/cli.py)."""

import sys

from es_indexer.cli import main

if __name__ == "__main__":
    sys.exit(main())
