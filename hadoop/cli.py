"""Run the object-count aggregation over the detection archive (s3://<bucket>/detections/,
hour files of detection events that `detection-archiver` writes) or, with --source
metadata, over s3://<bucket>/metadata/ (one object per image), and publish the result to
s3://<bucket>/mapreduce-output/<run-id>/ (part-* files, then _SUCCESS).

By default a run reads only what the newest earlier run did not count (the archive's
new hours, or the new metadata objects) and adds it to that run's totals; with --full (or
when there is no such run, or something it counted was rewritten or deleted, or processed
again) it recounts everything. Both give the same totals, and so do both sources.

Exit codes: 0 done; 1 the job or S3 failed; 2 bad settings or the run id is taken;
3 done but bad records were skipped and --strict was given.
Arguments after a literal `--` go to mrjob unchanged (e.g. `-- -c mrjob.conf`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hadoop.aggregation import RunExistsError, run_aggregation
from hadoop.object_counts_job import BAD_RECORDS, RECORDS, TIMESTAMPS
from hadoop.settings import RUNNERS, SOURCES, AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import Interval
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging

log = logging.getLogger(__name__)
JOB_COUNTER_GROUPS = {BAD_RECORDS, RECORDS, TIMESTAMPS}


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    mrjob_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, mrjob_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="count-aggregation", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-r", "--runner", choices=RUNNERS, help="mrjob runner (env AGGREGATION_RUNNER; default: local)")
    parser.add_argument(
        "--interval",
        choices=[i.value for i in Interval],
        help="bucket length (env AGGREGATION_INTERVAL; default: hour)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        help="archive: the detection archive's hour files; metadata: one object per image "
        "(env AGGREGATION_SOURCE; default: archive)",
    )
    parser.add_argument(
        "--archive-prefix",
        help="detection archive folder in the bucket (env DETECTIONS_ARCHIVE_PREFIX; default: detections/)",
    )
    parser.add_argument(
        "--input-prefix", help="metadata folder in the bucket, with --source metadata (default: metadata/)"
    )
    parser.add_argument("--output-prefix", help="folder holding the runs (default: mapreduce-output/)")
    parser.add_argument("--run-id", help="output folder name (default: UTC now, 20261128T120000Z)")
    parser.add_argument("--keys-per-split", type=int, help="objects per map task input (default: 10000)")
    parser.add_argument("--fetch-threads", type=int, help="concurrent GETs per map task (default: 16)")
    parser.add_argument("--hadoop-home", help="-r hadoop: Hadoop install (default: $HADOOP_HOME)")
    parser.add_argument(
        "--full", action="store_true", help="recount every object instead of adding the new ones to the last run"
    )
    parser.add_argument(
        "--keep-runs",
        type=int,
        help="complete runs to keep; older ones are removed (env AGGREGATION_KEEP_RUNS; default: 10; 0 keeps all)",
    )
    parser.add_argument(
        "--summary-file",
        type=Path,
        help="also write the run's summary (mode, objects listed and read, counters) as JSON to this file",
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 when any bad record was skipped")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv), mrjob_args


def main(argv: list[str] | None = None) -> int:
    args, mrjob_args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.verbose)
    if not args.verbose:  # "no configs specified": we pass --no-conf on purpose
        logging.getLogger("mrjob.conf").setLevel(logging.ERROR)
    try:
        settings = AggregationSettings.from_env(
            runner=args.runner,
            interval=args.interval,
            input_prefix=args.input_prefix,
            source=args.source,
            archive_prefix=args.archive_prefix,
            output_prefix=args.output_prefix,
            run_id=args.run_id,
            keys_per_split=args.keys_per_split,
            fetch_threads=args.fetch_threads,
            hadoop_home=args.hadoop_home,
            extra_runner_args=mrjob_args,
            full=args.full or None,
            keep_runs=args.keep_runs,
        )
    except SettingsError as error:
        log.error("%s", error)
        return 2
    log.info(
        "run %s: %s runner, %s buckets, reading the %s, %r",
        settings.run_id,
        settings.runner,
        settings.interval.value,
        settings.source,
        settings.s3,
    )
    try:
        result = run_aggregation(settings, s3_client(settings.s3))
    except RunExistsError as error:
        log.error("%s", error)
        return 2
    except Exception:
        log.exception("aggregation run %s failed; nothing was marked complete", settings.run_id)
        return 1
    for group, counters in sorted(result.counters.items()):
        # the job's own counters matter to the user; Hadoop's framework ones to debugging
        level = logging.INFO if group in JOB_COUNTER_GROUPS else logging.DEBUG
        for name, value in sorted(counters.items()):
            log.log(level, "counter %s / %s = %s", group, name, value)
    what = "archive files" if result.source == "archive" else "objects"
    log.info(
        "run %s complete (%s): %s %s listed, %s read, %s part file(s) in %s",
        result.run_id,
        result.mode,
        result.objects_listed,
        what,
        result.objects_read,
        len(result.part_keys),
        result.output_uri,
    )
    if args.summary_file:
        args.summary_file.write_text(json.dumps(result.summary(), indent=1), encoding="utf-8")
    if result.bad_records:
        log.warning("%s bad record(s) skipped (see the 'bad records' counters)", result.bad_records)
        if args.strict:
            return 3
    return 0
