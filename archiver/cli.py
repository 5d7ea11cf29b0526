"""Detection archiver: detection events (Kafka) -> hour-partitioned batch files in S3,
s3://<bucket>/detections/date=YYYY-MM-DD/hour=HH/part-<partition>-<first offset>.jsonl.gz,
the aggregation's input (a few large files instead of one object per image).

`detection-archiver` (or `run`) runs until stopped (SIGTERM / Ctrl-C: the batches in hand
are written and committed, then it exits 0), or until --max-messages were read or no event
arrived for --idle-timeout seconds. Offsets are committed only after the batch's file is
in S3; a batch read again after a crash gets the same file name and overwrites it.
Messages that are no detection event are skipped and logged (the live indexer
dead-letters them). Settings: .env / the environment (see .env.example, "Archiver").

`detection-archiver backfill` rebuilds the archive from the metadata records
(s3://<bucket>/metadata/, the source of truth): for history older than the archiver. It
reads the metadata, which the archiver's own account may not, so it runs with the
pipeline's S3 account (S3_ACCESS_KEY / S3_SECRET_KEY), as an operator's one-off command.

`detection-archiver compact` merges each closed hour's files (ended more than
--min-age-hours ago) into one large file, so an aggregation reads a file per hour instead of
dozens; safe to interrupt and to run again (archiver/compact.py). The scheduler runs it
before the nightly full recount. It reads and deletes archive files, so it runs with the
pipeline's S3 account too.

Exit codes: 0 done, 1 unexpected error, 2 configuration error, 3 a service refused the
archiver's credentials or rights (nothing uncommitted is lost: it is read again).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from pipeline_common.cli import add_run_limits, stage_parser
from pipeline_common.clients import s3_client
from pipeline_common.contracts import METADATA_PREFIX
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics
from pipeline_common.s3_reader import S3ObjectReader
from pipeline_common.settings import S3Settings
from pipeline_common.signals import stop_on_signals
from pipeline_common.timestamps import utc_now

from .backfill import backfill
from .compact import DEFAULT_MIN_AGE, compact
from .loop import Archiver, RunLimits
from .settings import ArchiverSettings, BackfillSettings

log = logging.getLogger("archiver")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_FATAL = 0, 1, 2, 3


def parse_args(argv: list[str] | None):
    parser = stage_parser("detection-archiver", __doc__)
    parser.add_argument(
        "command",
        nargs="?",
        choices=["run", "backfill", "compact"],
        default="run",
        help="run: archive the detections topic (default); backfill: rebuild the archive from the metadata "
        "records; compact: merge each closed hour's files into one",
    )
    add_run_limits(parser, "event")
    parser.add_argument(
        "--metadata-prefix",
        default=METADATA_PREFIX,
        help=f"backfill: folder of the metadata records (default: {METADATA_PREFIX})",
    )
    parser.add_argument(
        "--min-age-hours",
        type=float,
        default=DEFAULT_MIN_AGE / timedelta(hours=1),
        help="compact: only hours that ended at least this long ago (default: %(default)g; incremental "
        "aggregations list the hours since their base run less AGGREGATION_ARCHIVE_LATENESS_S)",
    )
    parser.add_argument("--no-progress", action="store_true", help="backfill, compact: no progress bar")
    parser.add_argument(
        "--summary-file", type=Path, help="compact: write what it did there, as JSON (the scheduler reads it)"
    )
    return parser.parse_args(argv)


def run(settings: ArchiverSettings, limits: RunLimits) -> int:
    from confluent_kafka import Consumer

    serve_metrics(settings.metrics)
    stop = stop_on_signals("the batches in hand: writing and committing them")
    consumer = Consumer(settings.consumer_config())
    archiver = Archiver.from_settings(settings, consumer, stop, limits)
    log.info(
        "archiving %s as group %s into s3://%s/%s (a file per partition at least every %g s)",
        settings.kafka.detections_topic,
        settings.group_id,
        settings.s3.bucket,
        settings.prefix,
        settings.flush_s,
    )
    started = time.monotonic()
    try:
        summary = archiver.run()
    finally:
        consumer.close()
    log.info(
        "stopped (%s) after %.0f s: %d event(s) read, %d archived in %d file(s), %d skipped",
        summary.stopped_by,
        time.monotonic() - started,
        summary.received,
        summary.archived,
        summary.files,
        summary.skipped,
    )
    return EXIT_FATAL if summary.fatal else EXIT_OK


def run_backfill(s3: S3Settings, prefix: str, metadata_prefix: str, progress: bool) -> int:
    reader = S3ObjectReader(s3)
    try:
        report = backfill(s3_client(s3), reader.get, s3.bucket, metadata_prefix, prefix, progress=progress)
    finally:
        reader.close()
    log.info(
        "backfill: %d metadata record(s) listed, %d event(s) written in %d file(s) under s3://%s/%s",
        report.listed,
        report.events,
        len(report.files),
        s3.bucket,
        prefix,
    )
    for reason, count in sorted(report.bad.items()):
        log.warning("backfill: %d bad record(s) skipped: %s", count, reason)
    return EXIT_OK


def run_compact(
    s3: S3Settings, prefix: str, min_age: timedelta, progress: bool, summary_file: Path | None = None
) -> int:
    reader = S3ObjectReader(s3)
    try:
        report = compact(s3_client(s3), reader.get, s3.bucket, prefix, utc_now(), min_age, progress=progress)
    finally:
        reader.close()
    log.info(
        "compact: %d closed hour(s) under s3://%s/%s, %d compacted: %d file(s) read, %d written, %d deleted "
        "(%d event(s))",
        report.hours_listed,
        s3.bucket,
        prefix,
        report.hours_compacted,
        report.files_read,
        report.files_written,
        report.files_deleted,
        report.events,
    )
    if summary_file is not None:
        summary_file.write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
    if report.unreadable:
        log.error("compact: %d unreadable file(s) left as they are: %s", len(report.unreadable), report.unreadable)
        return EXIT_ERROR
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.verbose)
    try:
        if args.command in ("backfill", "compact"):
            backfill_settings = BackfillSettings.from_env()
        else:
            settings = ArchiverSettings.from_env()
    except SettingsError as error:
        log.error("configuration: %s", error)
        return EXIT_CONFIG
    try:
        if args.command == "backfill":
            return run_backfill(
                backfill_settings.s3, backfill_settings.prefix, args.metadata_prefix, not args.no_progress
            )
        if args.command == "compact":
            if args.min_age_hours < 0:
                log.error("configuration: --min-age-hours must not be negative")
                return EXIT_CONFIG
            min_age = timedelta(hours=args.min_age_hours)
            return run_compact(
                backfill_settings.s3, backfill_settings.prefix, min_age, not args.no_progress, args.summary_file
            )
        return run(settings, RunLimits(args.max_messages, args.idle_timeout))
    except Exception:
        log.exception("the detection archiver failed")
        return EXIT_ERROR
