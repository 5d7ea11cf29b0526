"""Object-detection consumer: Kafka image announcements -> YOLO -> metadata JSON in S3.

Runs until stopped (SIGTERM / Ctrl-C finish or hand back the images in flight, commit
and exit 0), or for batch runs until --max-messages were handled or the topic stayed
empty for --idle-timeout seconds. Settings come from .env / the environment
(see .env.example, section "Consumer").

Exit codes: 0 done, 1 unexpected error, 2 configuration error (settings, model files),
3 stopped by a service error that retrying cannot fix (e.g. S3 credentials refused).
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from tqdm import tqdm

from consumer.app import run_consumer
from consumer.errors import FatalError
from consumer.loop import RunLimits
from consumer.models import ModelNotFound
from consumer.settings import ConsumerSettings
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics

log = logging.getLogger("consumer")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="object-detector",
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--max-messages", type=int, metavar="N", help="stop after handling N messages")
    parser.add_argument(
        "--idle-timeout", type=float, metavar="S", help="stop once no message arrived for S seconds after partitions were assigned (topic drained)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.max_messages is not None and args.max_messages < 1:
        parser.error("--max-messages must be at least 1")
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        parser.error("--idle-timeout must be positive")
    return args


def stop_on_signals(stop: threading.Event) -> None:
    def handle(signum, _frame) -> None:
        log.info(
            "%s received: finishing the images in flight, then committing (signal again to stop at once)",
            signal.Signals(signum).name,
        )
        stop.set()
        # a second signal ends the process at once; uncommitted work is simply redone
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = ConsumerSettings.from_env()
    except SettingsError as error:
        log.error("configuration: %s", error)
        return EXIT_CONFIG
    serve_metrics(settings.metrics)
    stop = threading.Event()
    stop_on_signals(stop)
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
        summary.stopped_by, summary.polled, summary.processed, summary.dead_lettered, summary.handed_back,
    )
    return EXIT_FATAL if summary.fatal else EXIT_OK
