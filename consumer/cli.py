"""Object-detection consumer: Kafka image announcements -> YOLO -> metadata JSON in S3.

Runs until stopped (SIGTERM / Ctrl-C finish or hand back the images in flight, commit
and exit 0), or for batch runs until --max-messages were handled or the topic stayed
empty for --idle-timeout seconds. Settings come from .env / the environment
(see .env.example, section "Consumer").

Exit codes: 0 done, 1 unexpected error, 2 configuration error (settings, model files),
3 stopped by a service error that retrying cannot fix (e.g. S3 credentials refused; the
detections or dead-letter topic missing at start-up; Kafka refusing a dead letter or an
event for good: not authorised, no such topic, too large). The message in flight is not
committed: it is read again once the cause is fixed.
"""

from __future__ import annotations

import argparse
import logging

from tqdm import tqdm

from consumer.app import run_consumer
from consumer.errors import FatalError
from consumer.loop import RunLimits
from consumer.models import ModelNotFound
from consumer.settings import ConsumerSettings
from pipeline_common.cli import add_run_limits, stage_parser
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics
from pipeline_common.signals import stop_on_signals

log = logging.getLogger("consumer")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = stage_parser("object-detector", __doc__)
    add_run_limits(parser, "image")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = ConsumerSettings.from_env()
    except SettingsError as error:
        log.error("configuration: %s", error)
        return EXIT_CONFIG
    serve_metrics(settings.metrics)
    stop = stop_on_signals("the images in flight, then committing")
    progress = tqdm(total=args.max_messages, unit="msg", disable=None) if args.max_messages else None
    try:
        summary = run_consumer(settings, RunLimits(args.max_messages, args.idle_timeout), stop, progress)
    except ModelNotFound as error:
        log.error("%s", error)
        return EXIT_CONFIG
    except FatalError as error:  # found before anything was consumed
        log.error("%s", error)
        return EXIT_FATAL
    finally:
        if progress is not None:
            progress.close()
    log.info(
        "stopped (%s): %d polled, %d processed, %d dead-lettered, %d handed back",
        summary.stopped_by,
        summary.polled,
        summary.processed,
        summary.dead_lettered,
        summary.handed_back,
    )
    return EXIT_FATAL if summary.fatal else EXIT_OK
