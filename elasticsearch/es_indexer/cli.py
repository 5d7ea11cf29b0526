"""Index an aggregation run (s3://<bucket>/mapreduce-output/<run-id>/part-*) into
Elasticsearch: by default the newest run with a _SUCCESS marker.

Documents have deterministic ids, so indexing again, or indexing a newer run over an
older one, leaves the same counts as indexing from scratch; buckets the indexed run
no longer has are deleted afterwards, unless the run looks partial: it skipped malformed
records or lines, its input shrank under INDEXER_PRUNE_MIN_INPUT_RATIO of the run indexed
before, or it does not say what its input was (it is indexed anyway, and the summary says
why nothing was deleted). One indexer at a time per index (a lease in <index>-lock).

Exit codes: 0 all indexed; 1 documents failed or a service failed; 2 bad settings,
no complete run, an incompatible index or an older run refused; 3 malformed lines
were skipped (each reported with its S3 key and line number); 4 another indexer is
indexing this index (nothing done).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from es_indexer.index import IndexMappingError
from es_indexer.run import IndexerBusyError, OlderRunError, RunNotFoundError, index_run
from es_indexer.settings import IndexerSettings
from pipeline_common.clients import elasticsearch_client, s3_client
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.timestamps import utc_now

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="count-indexer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-id", help="run to index (default: the newest complete run)")
    parser.add_argument("--index", help="index name (env ES_INDEX; default: hadoop-object-counts-v1)")
    parser.add_argument("--output-prefix", help="folder holding the runs (default: mapreduce-output/)")
    parser.add_argument("--chunk-size", type=int, help="documents per bulk request (default: 500)")
    parser.add_argument(
        "--no-prune",
        dest="prune",
        action="store_false",
        default=None,
        help="keep documents of buckets the run no longer has",
    )
    parser.add_argument(
        "--allow-older", action="store_true", default=None, help="index a run older than the one already indexed"
    )
    parser.add_argument(
        "--summary-file",
        type=Path,
        help="also write the result (documents created, updated, deleted, ...) as JSON here",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.verbose)
    try:
        settings = IndexerSettings.from_env(
            run_id=args.run_id,
            es={"index": args.index},
            output_prefix=args.output_prefix,
            chunk_size=args.chunk_size,
            prune=args.prune,
            allow_older=args.allow_older,
        )
    except SettingsError as error:
        log.error("%s", error)
        return 2
    es = elasticsearch_client(settings.es)
    try:
        summary = index_run(settings, s3_client(settings.s3), es, utc_now())
    except (RunNotFoundError, IndexMappingError, OlderRunError) as error:
        log.error("%s", error)
        return 2
    except IndexerBusyError as error:
        log.error("%s", error)
        return 4
    except Exception:
        log.exception("indexing failed")
        return 1
    finally:
        es.close()
    print("\n".join(summary.lines()))  # the command's result, on stdout
    if args.summary_file:
        args.summary_file.write_text(json.dumps(summary.to_dict(), indent=1), encoding="utf-8")
    if summary.outcome.failed:
        return 1
    return 3 if summary.skipped else 0
