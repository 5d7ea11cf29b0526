"""Command line (`image-producer`, `python -m producer`, `python producer/main_producer.py`):
argument parsing and the five commands, each returning an exit code.

Exit codes: 0 all done, 1 some items failed (they are listed), 2 usage or configuration error."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.signals import stop_on_signals

from .announce import Announcer
from .backfill import backfill
from .clients import Clients
from .ingest import Ingest
from .kafka_io import KafkaRefused, TopicError, ensure_topic
from .prepare import PrepareReport, find_originals, prepare_all
from .publish import Publisher, PublishReport, publish_all
from .s3_io import BucketProblem, StoreUnavailable, check_bucket
from .settings import ProducerSettings
from .sidecar import list_frames
from .state import PublishedLedger
from .watch import watch

log = logging.getLogger(__name__)

OK, FAILED, USAGE = 0, 1, 2
# flush waits a little longer than a message may live, so every delivery report arrives
FLUSH_MARGIN_S = 10.0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args)
    except SettingsError as error:
        log.error("configuration: %s", error)
        return USAGE
    log.debug("settings: %s", settings)
    return dispatch(args, settings, Clients(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image-producer",
        description="Turn pictures and videos into normalised frames, upload them to S3 and announce them on Kafka.",
        epilog="Settings come from .env and the environment (see producer/README.md). "
        "Exit codes: 0 ok, 1 some items failed (listed), 2 usage or configuration error.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    folders = argparse.ArgumentParser(add_help=False)
    folders.add_argument("--new-pics", type=Path, help="input folder (PRODUCER_NEW_PICS_DIR)")
    folders.add_argument("--frames", type=Path, help="frames folder (PRODUCER_FRAMES_DIR)")
    shaping = argparse.ArgumentParser(add_help=False)
    shaping.add_argument("--source", help="source name for every file (PRODUCER_SOURCE)")
    shaping.add_argument("--fps", type=float, help="video frames sampled per second (PRODUCER_VIDEO_FPS)")
    shaping.add_argument("--max-side", type=int, help="longest side of a frame in pixels (PRODUCER_MAX_SIDE)")

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "prepare", parents=[common, folders, shaping], help="new_pics/ -> normalised frames with sidecars"
    )
    commands.add_parser("publish", parents=[common, folders], help="upload frames not yet announced and announce them")
    commands.add_parser("run", parents=[common, folders, shaping], help="prepare, then publish (the demo's default)")
    commands.add_parser(
        "watch", parents=[common, folders, shaping], help="prepare and announce files as they land in new_pics/"
    )
    commands.add_parser(
        "backfill",
        parents=[common, folders, shaping],
        help="announce S3 images/ objects that have no acknowledgement here and no metadata yet",
    )
    return parser


def load_settings(args: argparse.Namespace) -> ProducerSettings:
    """.env and the environment, then the command line's values (checked alike, so a
    `--fps 0` is refused like PRODUCER_VIDEO_FPS=0). `prepare` needs no services, so no
    S3 or Kafka credentials either."""
    return ProducerSettings.from_env(
        without=("s3", "kafka") if args.command == "prepare" else (),
        new_pics_dir=getattr(args, "new_pics", None),
        frames_dir=getattr(args, "frames", None),
        source=getattr(args, "source", None),
        video_fps=getattr(args, "fps", None),
        max_side=getattr(args, "max_side", None),
    )


def dispatch(args: argparse.Namespace, settings: ProducerSettings, clients) -> int:
    progress = False if args.no_progress else None
    command = {
        "prepare": cmd_prepare,
        "publish": cmd_publish,
        "run": cmd_run,
        "watch": cmd_watch,
        "backfill": cmd_backfill,
    }
    try:
        return command[args.command](settings, clients, progress)
    except (BucketProblem, KafkaRefused) as error:
        log.error("%s", error)
        return USAGE
    except (StoreUnavailable, TopicError) as error:
        log.error("%s", error)
        return FAILED


def cmd_prepare(settings, clients, progress) -> int:
    report = prepare_all(settings, progress=progress)
    log_prepare(report)
    return OK if report.ok else FAILED


def cmd_publish(settings, clients, progress) -> int:
    publisher = _publisher(settings, clients)
    report = publish_all(publisher, list_frames(settings.frames_dir), _flush_timeout(settings), progress)
    log_publish(report)
    return OK if report.ok else FAILED


def cmd_run(settings, clients, progress) -> int:
    prepared = cmd_prepare(settings, clients, progress)
    published = cmd_publish(settings, clients, progress)
    return max(prepared, published)


def cmd_backfill(settings, clients, progress) -> int:
    announcer = _announcer(settings, clients)
    report = backfill(clients.s3, settings.s3.bucket, announcer, settings.source, _flush_timeout(settings), progress)
    log.info(
        "backfill: %d objects listed, %d announced now, %d announced before, %d already processed, %d failed",
        report.listed,
        len(report.acknowledged),
        report.already_announced,
        report.already_processed,
        len(report.failures),
    )
    _log_failures(report.failures)
    return OK if report.ok else FAILED


def cmd_watch(settings, clients, progress) -> int:
    ingest = Ingest(settings, _publisher(settings, clients))
    stop = stop_on_signals("the files in hand, then flushing")
    ingest.publish(list_frames(settings.frames_dir))  # frames an earlier run left unannounced
    watch(
        settings.new_pics_dir,
        settings.watch_settle_s,
        ingest.handle,
        ingest.idle,
        stop,
        existing=lambda: find_originals(settings.new_pics_dir)[0],
    )
    log.info("stopping: waiting for outstanding delivery reports")
    report = ingest.finish(_flush_timeout(settings))
    log_publish(report)
    return OK if report.ok else FAILED


def _announcer(settings: ProducerSettings, clients) -> Announcer:
    check_bucket(clients.s3, settings.s3.bucket)
    if settings.create_topic:
        admin, errors = clients.admin
        ensure_topic(admin, settings.kafka.images_topic, settings.topic_partitions, settings.topic_replication, errors)
    ledger = PublishedLedger.in_folder(settings.frames_dir, settings.s3.bucket, settings.kafka.images_topic)
    return Announcer(clients.producer, settings.kafka.images_topic, ledger)


def _publisher(settings: ProducerSettings, clients) -> Publisher:
    return Publisher(clients.s3, settings.s3.bucket, _announcer(settings, clients))


def _flush_timeout(settings: ProducerSettings) -> float:
    return settings.delivery_timeout_s + FLUSH_MARGIN_S


def log_prepare(report: PrepareReport) -> None:
    log.info(
        "prepare: %d new frame(s), %d frame(s) in total from the files handled, %d file(s) already prepared, "
        "%d failed, %d ignored",
        len(report.created),
        len(report.frames),
        report.already_prepared,
        len(report.failures),
        len(report.ignored),
    )
    _log_failures(report.failures)


def log_publish(report: PublishReport) -> None:
    log.info(
        "publish: %d uploaded, %d already in S3, %d announced and acknowledged, %d announced before, "
        "%d already processed, %d failed",
        report.uploaded,
        report.already_in_s3,
        report.announced,
        report.already_announced,
        report.already_processed,
        report.failed,
    )
    _log_failures(report.failures)
    if report.failures_not_listed:
        log.error("  ... and %d earlier failure(s), logged when they happened", report.failures_not_listed)


def _log_failures(failures: list[tuple[str, str]]) -> None:
    if failures:
        log.error("%d item(s) failed:", len(failures))
        for item, reason in failures:
            log.error("  %s: %s", item, reason)
