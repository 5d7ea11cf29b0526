"""Aggregation cost: a full recount of 100,000 images, and an incremental run that adds
1,000 new images to those 100,000, on the local S3 server; over the detection archive
(`--source archive`, the default) or over the metadata objects (`--source metadata`).

The archive of the history is written as the archiver writes it (hadoop/README.md, "The
detection archive"): the images' events in processing order, spread over 3 partitions by
image id, a file per partition and --flush-s (60) seconds of processing, in the hour
partition of its first event; the 1,000 new images arrive the same way in the current hour.
The synthetic records of aggregation_throughput.py (48 hours of captures) give about 8,000
files of a dozen events each: the archiver's layout at a low steady rate, its worst case.
A copy of it is compacted (`detection-archiver compact`, as the scheduler does before the
nightly full recount: a file per closed hour); both are written once, then reused.

In the same run (archive):
  1. baselines for the full recounts: one process listing the archive and reading every
     file (16 threads, the job's own lean S3 reader), counting nothing: the I/O floor, over
     the compacted archive and over the archiver's small files;
  2. the full recounts (`count-aggregation --full`), as the CLI runs them, over both;
  3. the 1,000 new images' files are written beside the compacted history's (and removed
     at the end), in the current hour, as the archiver writes them;
  4. the incremental run on top of the full recount: it lists the recent hours, reads the
     new files and adds them to the recount's totals;
  5. baseline for the incremental run: a run over those 1,000 images' files alone.
The compaction of the history (once, when the compacted copy is made) is timed too.

In the same run (metadata):
  1. baseline for the full recount: one process listing the objects and reading every
     one (16 threads, the job's own lean S3 reader), counting nothing: the I/O floor;
  2. the full recount (`run_aggregation.py --full`), as the CLI runs it;
  3. 1,000 new records are written beside the 100,000 (and removed at the end);
  4. the incremental run on top of the full recount: it lists everything, reads the
     1,000 new objects and adds them to the recount's totals;
  5. baseline for the incremental run: a run over those 1,000 records alone (their own
     folder, nothing else in it).
Goals (issue 9): full recount under 60 s; incremental run at most 2x the run over the
1,000 alone. Every run's total of detections is checked against the generated records.

    python -m benchmarks.aggregation_cost     # the archive of 100,000 images (written once, then reused)
    python -m benchmarks.aggregation_cost --source metadata   # the 100,000 records of aggregation_throughput.py
    python -m benchmarks.aggregation_cost --history 10000 --new 500
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tqdm import tqdm

from archiver.compact import compact
from benchmarks.aggregation_throughput import ensure_dataset, output_detections, synthetic_record
from benchmarks.common import argument_parser, save_figures
from hadoop.aggregation import run_aggregation
from hadoop.object_counts_job import event_counts
from hadoop.settings import AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import Interval, MetadataRecord, detection_event_from_record, parse_detection_event
from pipeline_common.contracts.detection_archive import decode_file, encode_file, hour_floor, part_key
from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import new_run_id
from pipeline_common.s3 import delete_prefix, list_keys
from pipeline_common.s3_reader import S3ObjectReader
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.aggregation_cost")

NEW_BASE = 10**9  # numbers of the new records: far from the history's 0..N-1


PARTITIONS = 3
NEW_RATE = 2.0  # images per second: how the 1,000 new images arrive


def events_of(numbers, processed_at=None) -> list[tuple[datetime, str, bytes]]:
    """(processing time, image id, event line) of synthetic records, in processing order;
    `processed_at(number)` overrides the records' own processing time."""
    found = []
    for number in numbers:
        record = MetadataRecord.from_json_bytes(synthetic_record(number))
        event = detection_event_from_record(record)
        if processed_at is not None:
            event = replace(event, processed_at=processed_at(number))
        found.append((event.processed_at, event.image_id, event.to_json_bytes()))
    return sorted(found)


def archiver_files(events, prefix: str, flush_s: float, first_offsets: dict[int, int]) -> dict[str, list[bytes]]:
    """The files the archiver writes for `events`: per partition (by image id), a batch per
    `flush_s` seconds of processing time and per hour, named by its first offset."""
    files: dict[str, list[bytes]] = {}
    open_batch: dict[int, tuple[datetime, str]] = {}
    offsets = dict(first_offsets)
    for moment, image_id, line in events:
        partition = int(image_id, 16) % PARTITIONS
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        batch = open_batch.get(partition)
        if (
            batch is None
            or moment - batch[0] >= timedelta(seconds=flush_s)
            or hour_floor(moment) != hour_floor(batch[0])
        ):
            batch = open_batch[partition] = (moment, part_key(prefix, moment, partition, offset))
        files.setdefault(batch[1], []).append(line)
    return files


def put_files(s3, bucket: str, files: dict[str, list[bytes]], threads: int, what: str) -> None:
    def put(item) -> None:
        key, lines = item
        s3.put_object(Bucket=bucket, Key=key, Body=encode_file(lines))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in tqdm(pool.map(put, files.items()), total=len(files), desc=what, unit=" files", disable=None):
            pass


def ensure_archive(
    s3, bucket: str, prefix: str, size: int, flush_s: float, threads: int, compacted_by=None
) -> tuple[int, float | None]:
    """The history's archive under `prefix` (written once, reused); its number of files, and
    with `compacted_by(prefix)` (which compacts it) the seconds that took when it ran now."""
    marker = f"{prefix}READY"
    try:
        size_s, files_s = s3.get_object(Bucket=bucket, Key=marker)["Body"].read().decode().split()
        if int(size_s) == size:
            log.info("reusing the archive of %s images (%s files) under s3://%s/%s", size, files_s, bucket, prefix)
            return int(files_s), None
    except (s3.exceptions.NoSuchKey, ValueError):
        pass
    delete_prefix(s3, bucket, prefix)
    files = archiver_files(
        events_of(tqdm(range(size), desc="events", unit=" images", disable=None)), prefix, flush_s, {}
    )
    put_files(s3, bucket, files, threads, "uploading the archive")
    count, seconds = len(files), None
    if compacted_by is not None:
        started = time.perf_counter()
        count = compacted_by(prefix)
        seconds = time.perf_counter() - started
        log.info("compacted %s files into %s in %.1f s", len(files), count, seconds)
    s3.put_object(Bucket=bucket, Key=marker, Body=f"{size} {count}".encode())
    return count, seconds


def detections_of(numbers) -> int:
    return sum(len(json.loads(synthetic_record(n))["detections"]) for n in numbers)


def write_records(s3, bucket: str, prefix: str, numbers, threads: int) -> None:
    def put(number: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{number:032x}.json", Body=synthetic_record(number))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, numbers))


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]})


def count_everything(s3, reader: S3ObjectReader, bucket: str, prefix: str, threads: int) -> int:
    """The archive counted in one process, with no MapReduce: list, read (16 threads),
    parse each event with its contract and add up its counts per (label, source, hour);
    the detections counted."""
    keys = [key for key in list_keys(s3, bucket, prefix) if key.endswith(".jsonl.gz")]
    totals: Counter = Counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for body in pool.map(lambda key: reader.get(bucket, key), keys):
            for line in decode_file(body):
                event = parse_detection_event(line)
                for key, (detections, _) in event_counts(event, Interval.HOUR):
                    totals[tuple(key)] += detections
    return sum(totals.values())


def read_everything(s3, reader: S3ObjectReader, bucket: str, prefix: str, threads: int) -> int:
    keys = list(list_keys(s3, bucket, prefix))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in tqdm(
            pool.map(lambda key: reader.get(bucket, key), keys),
            total=len(keys),
            desc="baseline read",
            unit=" objects",
            disable=None,
        ):
            pass
    return len(keys)


@dataclass
class Timed:
    seconds: float
    summary: dict


def timed_run(env, args, input_prefix: str, output_prefix: str, s3, *, full: bool) -> Timed:
    where = {"archive_prefix": input_prefix} if args.source == "archive" else {"input_prefix": input_prefix}
    settings = AggregationSettings.from_env(
        env,
        runner=args.runner,
        source=args.source,
        output_prefix=output_prefix,
        run_id=new_run_id(utc_now()),
        full=full,
        keep_runs=0,
        **where,
    )
    time.sleep(1.1)  # run ids have one-second resolution
    started = time.perf_counter()
    result = run_aggregation(settings, s3)
    seconds = time.perf_counter() - started
    summary = result.summary()
    summary["detections"] = output_detections(s3, settings.s3.bucket, f"{output_prefix}{result.run_id}/")
    log.info(
        "%s run over %s: %.1f s (%s objects listed, %s read)",
        result.mode,
        input_prefix,
        seconds,
        result.objects_listed,
        result.objects_read,
    )
    return Timed(seconds, summary)


def check(name: str, timed: Timed, mode: str, read: int, detections: int) -> None:
    got = (timed.summary["mode"], timed.summary["objects_read"], timed.summary["detections"])
    if got != (mode, read, detections):
        raise RuntimeError(f"{name}: expected {mode}, {read} read, {detections} detections; got {got}")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "aggregation_cost")
    parser.add_argument("--history", type=int, default=100_000, help="records already counted (default: 100000)")
    parser.add_argument("--new", type=int, default=1_000, help="records added for the incremental run (default: 1000)")
    parser.add_argument("-r", "--runner", default="local", choices=["inline", "local", "hadoop"])
    parser.add_argument("--prefix", default="bench/", help="bucket folder for the data (default: bench/)")
    parser.add_argument("--threads", type=int, default=16, help="upload and baseline-read threads")
    parser.add_argument(
        "--source", default="archive", choices=["archive", "metadata"], help="what the runs read (default: archive)"
    )
    parser.add_argument(
        "--flush-s",
        type=float,
        default=60.0,
        help="archive: seconds of processing per file and partition, as ARCHIVER_FLUSH_S (default: 60)",
    )
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        env = read_environment()
        settings = AggregationSettings.from_env(env)
    except SettingsError as error:
        log.error("%s", error)
        return 2
    bucket = settings.s3.bucket
    s3 = s3_client(settings.s3, max_pool_connections=max(10, args.threads))
    if args.source == "archive":
        return archive_cost(env, args, settings, s3)
    history = f"{args.prefix}aggregation-{args.history}/"  # shared with aggregation_throughput.py
    alone = f"{args.prefix}aggregation-cost-new-{args.new}/"
    out = f"{args.prefix}aggregation-cost-out/"
    new_numbers = range(NEW_BASE, NEW_BASE + args.new)
    new_keys = [f"{history}metadata/{n:032x}.json" for n in new_numbers]

    ensure_dataset(s3, bucket, history, args.history, args.threads)
    delete_keys(s3, bucket, new_keys)  # left over by an interrupted earlier run
    if not next(iter(list_keys(s3, bucket, f"{alone}metadata/")), None):
        write_records(s3, bucket, f"{alone}metadata/", new_numbers, args.threads)
    delete_prefix(s3, bucket, out)
    history_detections = detections_of(range(args.history))
    new_detections = detections_of(new_numbers)
    try:
        started = time.perf_counter()
        read = read_everything(s3, S3ObjectReader(settings.s3), bucket, f"{history}metadata/", args.threads)
        baseline_read = time.perf_counter() - started
        log.info("baseline: listed and read %s objects in %.1f s", read, baseline_read)

        full = timed_run(env, args, f"{history}metadata/", f"{out}history/", s3, full=True)
        check("full recount", full, "full", args.history, history_detections)

        write_records(s3, bucket, f"{history}metadata/", new_numbers, args.threads)
        incremental = timed_run(env, args, f"{history}metadata/", f"{out}history/", s3, full=False)
        check("incremental run", incremental, "incremental", args.new, history_detections + new_detections)

        only_new = timed_run(env, args, f"{alone}metadata/", f"{out}alone/", s3, full=True)
        check("run over the new records alone", only_new, "full", args.new, new_detections)
    finally:
        delete_keys(s3, bucket, new_keys)
        delete_prefix(s3, bucket, out)

    rows = [
        ("full recount", args.history, full.seconds, "baseline read", baseline_read, "< 60 s"),
        (
            f"incremental (+{args.new})",
            args.history + args.new,
            incremental.seconds,
            f"run over {args.new} alone",
            only_new.seconds,
            "ratio <= 2",
        ),
        (
            f"incremental (+{args.new})",
            args.history + args.new,
            incremental.seconds,
            f"full recount of {args.history}",
            full.seconds,
            "(what it saves)",
        ),
    ]
    print(f"\n{'run':>22} {'objects':>8} {'s':>7} {'baseline':>20} {'baseline s':>11} {'ratio':>6}  goal")
    for name, objects, seconds, baseline, baseline_s, goal in rows:
        print(
            f"{name:>22} {objects:>8} {seconds:>7.1f} {baseline:>20} {baseline_s:>11.1f} "
            f"{seconds / baseline_s:>6.2f}  {goal}"
        )
    print(
        f"listing the input: full recount {full.summary['listing_s']:.1f} s, incremental run "
        f"{incremental.summary['listing_s']:.1f} s, run over {args.new} alone {only_new.summary['listing_s']:.1f} s"
    )
    save_figures(
        args.json,
        {
            "runner": args.runner,
            "history": args.history,
            "new": args.new,
            "baseline_read_s": baseline_read,
            "full_s": full.seconds,
            "incremental_s": incremental.seconds,
            "new_alone_s": only_new.seconds,
            "listing_s": {
                "full": full.summary["listing_s"],
                "incremental": incremental.summary["listing_s"],
                "new_alone": only_new.summary["listing_s"],
            },
            "incremental_over_new_alone": incremental.seconds / only_new.seconds,
        },
    )
    return 0


def archive_cost(env, args, settings, s3) -> int:
    bucket = settings.s3.bucket
    history = f"{args.prefix}archive-{args.history}-{args.flush_s:g}s/"
    compacted = f"{args.prefix}archive-{args.history}-{args.flush_s:g}s-compacted/"
    alone = f"{args.prefix}archive-cost-new-{args.new}/"
    out = f"{args.prefix}archive-cost-out/"
    reader = S3ObjectReader(settings.s3)

    def compact_all(prefix: str) -> int:
        # every hour closed: the whole history, as nightly compactions leave it
        report = compact(s3, reader.get, bucket, prefix, utc_now() + timedelta(days=3650), threads=args.threads)
        if report.unreadable or report.kept:
            raise RuntimeError(f"compaction left files: {report.unreadable + report.kept}")
        return sum(1 for key in list_keys(s3, bucket, prefix) if key.endswith(".jsonl.gz"))

    history_files, _ = ensure_archive(s3, bucket, history, args.history, args.flush_s, args.threads)
    compacted_files, compaction_s = ensure_archive(
        s3, bucket, compacted, args.history, args.flush_s, args.threads, compacted_by=compact_all
    )
    # the new images arrive now, NEW_RATE a second, after the history's offsets
    now = utc_now()
    new_numbers = range(NEW_BASE, NEW_BASE + args.new)
    arrivals = {n: now - timedelta(seconds=(NEW_BASE + args.new - n) / NEW_RATE) for n in new_numbers}
    new_events = events_of(new_numbers, processed_at=arrivals.get)
    first_offsets = {p: args.history for p in range(PARTITIONS)}  # beyond any offset of the history
    new_files = archiver_files(new_events, compacted, args.flush_s, first_offsets)
    alone_files = archiver_files(new_events, alone, args.flush_s, first_offsets)
    delete_prefix(s3, bucket, out)
    delete_prefix(s3, bucket, alone)
    history_detections = detections_of(range(args.history))
    new_detections = detections_of(new_numbers)
    try:
        started = time.perf_counter()
        read_everything(s3, reader, bucket, compacted, args.threads)
        baseline_compacted = time.perf_counter() - started
        started = time.perf_counter()
        read_everything(s3, reader, bucket, history, args.threads)
        baseline_small = time.perf_counter() - started
        started = time.perf_counter()
        counted = count_everything(s3, reader, bucket, compacted, args.threads)
        baseline_count = time.perf_counter() - started
        if counted != history_detections:
            raise RuntimeError(f"the bare count found {counted} detections, expected {history_detections}")
        log.info(
            "baseline: read %s / %s files in %.1f / %.1f s; counted the compacted ones in one process in %.1f s",
            compacted_files,
            history_files,
            baseline_compacted,
            baseline_small,
            baseline_count,
        )

        full = timed_run(env, args, compacted, f"{out}history/", s3, full=True)
        check("full recount (compacted)", full, "full", compacted_files, history_detections)
        full_small = timed_run(env, args, history, f"{out}small/", s3, full=True)
        check("full recount (small files)", full_small, "full", history_files, history_detections)

        put_files(s3, bucket, new_files, args.threads, "the new images' files")
        incremental = timed_run(env, args, compacted, f"{out}history/", s3, full=False)
        check("incremental run", incremental, "incremental", len(new_files), history_detections + new_detections)

        put_files(s3, bucket, alone_files, args.threads, "the new images' files, alone")
        only_new = timed_run(env, args, alone, f"{out}alone/", s3, full=True)
        check("run over the new images alone", only_new, "full", len(alone_files), new_detections)
    finally:
        delete_keys(s3, bucket, list(new_files))
        delete_prefix(s3, bucket, out)
        delete_prefix(s3, bucket, alone)
        reader.close()

    rows = [
        (
            "full recount",
            f"{args.history} in {compacted_files}",
            full.seconds,
            "baseline read",
            baseline_compacted,
            "< 60 s",
        ),
        (
            "full recount",
            f"{args.history} in {compacted_files}",
            full.seconds,
            "one-process count",
            baseline_count,
            "(the job's overhead)",
        ),
        (
            "full, uncompacted",
            f"{args.history} in {history_files}",
            full_small.seconds,
            "baseline read",
            baseline_small,
            "",
        ),
        (
            f"incremental (+{args.new})",
            f"+{args.new} in {len(new_files)}",
            incremental.seconds,
            f"run over {args.new} alone",
            only_new.seconds,
            "ratio <= 2",
        ),
        (
            f"incremental (+{args.new})",
            f"+{args.new} in {len(new_files)}",
            incremental.seconds,
            f"full recount of {args.history}",
            full.seconds,
            "(what it saves)",
        ),
    ]
    print(f"\nover the detection archive, -r {args.runner}")
    print(f"{'run':>22} {'images in files':>18} {'s':>7} {'baseline':>22} {'baseline s':>11} {'ratio':>6}  goal")
    for name, objects, seconds, baseline, baseline_s, goal in rows:
        print(
            f"{name:>22} {objects:>18} {seconds:>7.1f} {baseline:>22} {baseline_s:>11.1f} "
            f"{seconds / baseline_s:>6.2f}  {goal}"
        )
    print(
        f"listing the input: full recount {full.summary['listing_s']:.1f} s ({full.summary['objects_listed']} "
        f"files), uncompacted {full_small.summary['listing_s']:.1f} s ({full_small.summary['objects_listed']} "
        f"files), incremental run {incremental.summary['listing_s']:.1f} s "
        f"({incremental.summary['objects_listed']} files), run over {args.new} alone "
        f"{only_new.summary['listing_s']:.1f} s"
    )
    if compaction_s is not None:
        print(f"compacting the history's {history_files} files into {compacted_files}: {compaction_s:.1f} s")
    save_figures(
        args.json,
        {
            "source": "archive",
            "runner": args.runner,
            "history": args.history,
            "new": args.new,
            "history_files": history_files,
            "compacted_files": compacted_files,
            "compaction_s": compaction_s,
            "new_files": len(new_files),
            "flush_s": args.flush_s,
            "baseline_read_s": baseline_compacted,
            "baseline_read_uncompacted_s": baseline_small,
            "baseline_count_s": baseline_count,
            "full_s": full.seconds,
            "full_uncompacted_s": full_small.seconds,
            "incremental_s": incremental.seconds,
            "new_alone_s": only_new.seconds,
            "listing_s": {
                "full": full.summary["listing_s"],
                "full_uncompacted": full_small.summary["listing_s"],
                "incremental": incremental.summary["listing_s"],
                "new_alone": only_new.summary["listing_s"],
            },
            "incremental_over_new_alone": incremental.seconds / only_new.seconds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
