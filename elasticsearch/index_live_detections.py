"""Live indexer: detection events from Kafka -> daily live indices in Elasticsearch.
The code is the package `es_live`; see `python -m es_live --help`."""
import sys

from es_live.cli import main

if __name__ == "__main__":
    sys.exit(main())
