"""Aggregation throughput (metadata records/s) on the local S3 server.

For each size N (default 10000), N synthetic metadata records are uploaded once under
s3://<bucket>/bench/aggregation-<N>/metadata/ (a thread pool; a READY marker makes later
runs reuse them), then, in the same run:
  1. a bare single-process Python pass: list + GET + json.loads + count in a dict;
  2. the aggregation run as `count-aggregation` does it (list, manifest, mrjob
     job with thread-pooled GETs in the map tasks, publish part-* and _SUCCESS);
and prints both rates and their ratio. Both must find the same number of detections.

    python -m benchmarks.aggregation_throughput --sizes 10000
    python -m benchmarks.aggregation_throughput --sizes 100000      # ~10 min upload once
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from tqdm import tqdm

from benchmarks.common import argument_parser, save_figures, table
from hadoop.aggregation import run_aggregation
from hadoop.settings import AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import new_run_id
from pipeline_common.s3 import delete_prefix, list_keys
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.aggregation_throughput")

LABELS = ["person"] * 9 + ["car"] * 6 + ["bicycle"] * 3 + ["dog", "truck", "bus", "cat", "traffic light"]
SOURCES = [f"cam-{n}" for n in range(5)]
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def synthetic_record(number: int) -> bytes:
    rng = random.Random(number)
    image_id = f"{number:032x}"
    captured = START + timedelta(seconds=rng.randrange(48 * 3600))
    record = {
        "schema_version": 1,
        "image_id": image_id,
        "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
        "source": rng.choice(SOURCES),
        "captured_at": captured.isoformat().replace("+00:00", "Z"),
        "processed_at": (captured + timedelta(seconds=2)).isoformat().replace("+00:00", "Z"),
        "model": {"name": "yolov4-tiny", "input_size": 416, "confidence_threshold": 0.5, "nms_threshold": 0.4},
        "width": 1280,
        "height": 720,
        "detections": [
            {
                "label": rng.choice(LABELS),
                "class_id": 0,
                "confidence": round(rng.uniform(0.5, 1), 4),
                "box": [rng.randrange(1000), rng.randrange(600), 40, 80],
            }
            for _ in range(rng.randrange(6))
        ],
        "timings_ms": {"decode": 3.1, "inference": 41.7},
    }
    return json.dumps(record, separators=(",", ":")).encode()


def ensure_dataset(s3, bucket: str, prefix: str, size: int, threads: int) -> None:
    marker = f"{prefix}READY"
    try:
        if int(s3.get_object(Bucket=bucket, Key=marker)["Body"].read()) == size:
            log.info("reusing %s records under s3://%s/%smetadata/", size, bucket, prefix)
            return
    except s3.exceptions.NoSuchKey:
        pass

    def put(number: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}metadata/{number:032x}.json", Body=synthetic_record(number))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in tqdm(pool.map(put, range(size)), total=size, desc="uploading", unit=" records"):
            pass
    s3.put_object(Bucket=bucket, Key=marker, Body=str(size).encode())


def bare_pass(s3, bucket: str, prefix: str) -> tuple[int, int]:
    """(records, detections): the simplest correct single-process aggregation."""
    counts: Counter = Counter()
    records = 0
    for key in list_keys(s3, bucket, prefix):
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        records += 1
        hour = record["captured_at"][:13]
        for detection in record["detections"]:
            counts[(detection["label"], record["source"], hour)] += 1
    return records, sum(counts.values())


def output_detections(s3, bucket: str, prefix: str) -> int:
    total = 0
    for key in list_keys(s3, bucket, prefix):
        if "/part-" in key:
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines():
                total += json.loads(line)["detections"]
    return total


@dataclass
class Result:
    size: int
    runner: str
    bare_s: float
    job_s: float

    @property
    def bare_rate(self) -> float:
        return self.size / self.bare_s

    @property
    def job_rate(self) -> float:
        return self.size / self.job_s


def measure(env, size: int, args) -> Result:
    prefix = f"{args.prefix}aggregation-{size}/"
    settings = AggregationSettings.from_env(
        env,
        runner=args.runner,
        source="metadata",
        input_prefix=f"{prefix}metadata/",
        output_prefix=f"{prefix}out/",
        run_id=new_run_id(utc_now()),
        fetch_threads=args.fetch_threads,
        keys_per_split=args.keys_per_split,
    )
    bucket = settings.s3.bucket
    s3 = s3_client(settings.s3, max_pool_connections=max(10, args.upload_threads))
    ensure_dataset(s3, bucket, prefix, size, args.upload_threads)

    started = time.perf_counter()
    records, bare_detections = bare_pass(s3, bucket, f"{prefix}metadata/")
    bare_s = time.perf_counter() - started
    log.info("bare pass: %s records, %s detections in %.1f s", records, bare_detections, bare_s)

    started = time.perf_counter()
    result = run_aggregation(settings, s3)
    job_s = time.perf_counter() - started
    job_detections = output_detections(s3, bucket, f"{prefix}out/{result.run_id}/")
    delete_prefix(s3, bucket, f"{prefix}out/")
    log.info("aggregation run: %s detections in %.1f s", job_detections, job_s)
    if records != size or job_detections != bare_detections:
        raise RuntimeError(
            f"mismatch: {records} records listed for {size}; detections bare {bare_detections} vs job {job_detections}"
        )
    return Result(size, args.runner, bare_s, job_s)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "aggregation_throughput")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000], help="record counts (default: 10000)")
    parser.add_argument("-r", "--runner", default="local", choices=["inline", "local", "hadoop"])
    parser.add_argument("--prefix", default="bench/", help="bucket folder for the data (default: bench/)")
    parser.add_argument("--upload-threads", type=int, default=32)
    parser.add_argument("--fetch-threads", type=int, default=16, help="GETs in flight per map task")
    parser.add_argument("--keys-per-split", type=int, default=10_000)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        env = read_environment()
        results = [measure(env, size, args) for size in args.sizes]
    except SettingsError as error:
        log.error("%s", error)
        return 2
    columns = [
        ("records", 8),
        ("runner", 7),
        ("bare s", 8),
        ("bare rec/s", 11),
        ("job s", 8),
        ("job rec/s", 10),
        ("job/bare", 9),
    ]
    print(
        "\n"
        + table(
            columns,
            [
                [
                    str(r.size),
                    r.runner,
                    f"{r.bare_s:.1f}",
                    f"{r.bare_rate:.0f}",
                    f"{r.job_s:.1f}",
                    f"{r.job_rate:.0f}",
                    f"{r.job_rate / r.bare_rate:.2f}",
                ]
                for r in results
            ],
        )
    )
    save_figures(args.json, [{**asdict(r), "bare_rate": r.bare_rate, "job_rate": r.job_rate} for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(main())
