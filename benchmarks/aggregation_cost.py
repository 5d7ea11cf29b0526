"""Aggregation cost: a full recount of 100,000 images' metadata, and an incremental run
that adds 1,000 new images to those 100,000, on the local S3 server.

In the same run:
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

    python -m benchmarks.aggregation_cost     # reuses the 100,000 records of aggregation_throughput.py
    python -m benchmarks.aggregation_cost --history 10000 --new 500
"""
from __future__ import annotations

import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from benchmarks.aggregation_throughput import ensure_dataset, output_detections, synthetic_record
from benchmarks.common import argument_parser, save_figures
from hadoop.aggregation import run_aggregation
from hadoop.settings import AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import new_run_id
from pipeline_common.s3 import delete_prefix, list_keys
from pipeline_common.s3_reader import S3ObjectReader
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.aggregation_cost")

NEW_BASE = 10**9  # numbers of the new records: far from the history's 0..N-1


def detections_of(numbers) -> int:
    return sum(len(json.loads(synthetic_record(n))["detections"]) for n in numbers)


def write_records(s3, bucket: str, prefix: str, numbers, threads: int) -> None:
    def put(number: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{number:032x}.json", Body=synthetic_record(number))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, numbers))


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})


def read_everything(s3, reader: S3ObjectReader, bucket: str, prefix: str, threads: int) -> int:
    keys = list(list_keys(s3, bucket, prefix))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in tqdm(pool.map(lambda key: reader.get(bucket, key), keys), total=len(keys),
                      desc="baseline read", unit=" objects", disable=None):
            pass
    return len(keys)


@dataclass
class Timed:
    seconds: float
    summary: dict


def timed_run(env, args, input_prefix: str, output_prefix: str, s3, *, full: bool) -> Timed:
    settings = AggregationSettings.from_env(
        env, runner=args.runner, input_prefix=input_prefix, output_prefix=output_prefix,
        run_id=new_run_id(utc_now()), full=full, keep_runs=0,
    )
    time.sleep(1.1)  # run ids have one-second resolution
    started = time.perf_counter()
    result = run_aggregation(settings, s3)
    seconds = time.perf_counter() - started
    summary = result.summary()
    summary["detections"] = output_detections(s3, settings.s3.bucket, f"{output_prefix}{result.run_id}/")
    log.info("%s run over %s: %.1f s (%s objects listed, %s read)", result.mode, input_prefix, seconds,
             result.objects_listed, result.objects_read)
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
        (f"incremental (+{args.new})", args.history + args.new, incremental.seconds,
         f"run over {args.new} alone", only_new.seconds, "ratio <= 2"),
        (f"incremental (+{args.new})", args.history + args.new, incremental.seconds,
         f"full recount of {args.history}", full.seconds, "(what it saves)"),
    ]
    print(f"\n{'run':>22} {'objects':>8} {'s':>7} {'baseline':>20} {'baseline s':>11} {'ratio':>6}  goal")
    for name, objects, seconds, baseline, baseline_s, goal in rows:
        print(f"{name:>22} {objects:>8} {seconds:>7.1f} {baseline:>20} {baseline_s:>11.1f} "
              f"{seconds / baseline_s:>6.2f}  {goal}")
    print(f"listing the input: full recount {full.summary['listing_s']:.1f} s, incremental run "
          f"{incremental.summary['listing_s']:.1f} s, run over {args.new} alone {only_new.summary['listing_s']:.1f} s")
    save_figures(args.json, {
        "runner": args.runner, "history": args.history, "new": args.new,
        "baseline_read_s": baseline_read, "full_s": full.seconds,
        "incremental_s": incremental.seconds, "new_alone_s": only_new.seconds,
        "listing_s": {"full": full.summary["listing_s"], "incremental": incremental.summary["listing_s"],
                      "new_alone": only_new.summary["listing_s"]},
        "incremental_over_new_alone": incremental.seconds / only_new.seconds,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
