"""The live indexer's script path, beside the original design's indexer:
`python elasticsearch/index_live_detections.py --help`. The same command is `live-indexer`
and `python -m es_live` (see elasticsearch/es_live/cli.py)."""

import sys

from es_live.cli import main

if __name__ == "__main__":
    sys.exit(main())
