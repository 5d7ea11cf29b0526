"""Live indexer: detection events (Kafka) -> one document per image in Elasticsearch's
daily live indices (<ES_LIVE_INDEX_PREFIX>YYYY.MM.DD), so new counts reach the dashboard
within seconds, before the next batch run makes them final.

Runs until stopped (SIGTERM / Ctrl-C: the batch in flight is finished or left
uncommitted, then it exits 0), or until --max-messages were read or no event arrived for
--idle-timeout seconds. Offsets are committed only after Elasticsearch acknowledged the
batch; a redelivered event rewrites the same document (id = image id). Malformed events
and documents Elasticsearch refuses go to KAFKA_DETECTIONS_DEAD_LETTER_TOPIC. Live indices
older than LIVE_RETENTION_DAYS are dropped. Settings: .env / the environment (see
.env.example, section "Live indexer").

Exit codes: 0 stopped as asked, 1 unexpected error, 2 configuration error, 3 a service
refused the indexer's credentials or rights, the dead-letter topic is missing, or Kafka
refuses a dead letter for good (nothing of the batch in flight committed).
"""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline_common.cli import add_run_limits, stage_parser
from pipeline_common.environment import SettingsError
from pipeline_common.kafka import TopicUnavailable
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics
from pipeline_common.signals import stop_on_signals

from .app import run_live_indexer
from .index import Refused
from .loop import RunLimits
from .settings import LiveIndexerSettings

log = logging.getLogger("es_live")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = stage_parser("live-indexer", __doc__)
    add_run_limits(parser, "event")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.verbose)
    try:
        settings = LiveIndexerSettings.from_env()
    except SettingsError as error:
        log.error("configuration: %s", error)
        return EXIT_CONFIG
    serve_metrics(settings.metrics)
    stop = stop_on_signals("the batch in flight")
    try:
        summary = run_live_indexer(settings, RunLimits(args.max_messages, args.idle_timeout), stop)
    except (Refused, TopicUnavailable) as error:
        log.error("%s", error)
        return EXIT_FATAL
    except Exception:
        log.exception("the live indexer failed")
        return EXIT_ERROR
    log.info(
        "%d event(s) read, %d document(s) written (%d new), %d dead-lettered, %d outside the live window",
        summary.received,
        summary.indexed,
        summary.created,
        summary.dead_lettered,
        summary.expired,
    )
    return EXIT_FATAL if summary.fatal else EXIT_OK
