"""Rebuilding the archive from the metadata records (the source of truth): for history
written before the archiver ran, or after the detections topic's retention dropped
events the archiver had not read.

Every metadata object is read once (counted exactly as the aggregation job counts it,
`contracts/metadata_counting.py`) and turned into the detection event the consumer would
have published; the events are written, per hour of their processing time, in
`backfill-<n>.jsonl.gz` files sorted by image id, so running it again over the same
records overwrites the same files. An image both backfilled and archived from the topic
is counted once by the aggregation (its latest event), so a backfill beside a running
archiver never counts twice."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from tqdm import tqdm

from pipeline_common.contracts import detection_event_from_record
from pipeline_common.contracts.detection_archive import backfill_key, encode_file, hour_floor
from pipeline_common.contracts.metadata_counting import BadRecord, parse_record
from pipeline_common.s3 import S3Client, list_keys
from pipeline_common.s3_reader import ObjectNotFound

log = logging.getLogger(__name__)

EVENTS_PER_FILE = 20_000


@dataclass
class BackfillReport:
    listed: int = 0
    events: int = 0
    files: list[str] = field(default_factory=list)
    bad: Counter = field(default_factory=Counter)  # reason -> records skipped


def events_by_hour(bodies: Iterable[tuple[str, bytes | None]], report: BackfillReport) -> dict:
    """hour -> [(image id, event line)] of the records in `bodies` ((key, body or None when
    the object vanished))."""
    hours: dict = defaultdict(list)
    for key, body in bodies:
        if body is None:
            report.bad["object not found"] += 1
            continue
        try:
            record, _fallback = parse_record(body)
        except BadRecord as bad:
            log.warning("%s: bad record skipped: %s", key, bad)
            report.bad[bad.reason] += 1
            continue
        event = detection_event_from_record(record)
        hours[hour_floor(record.processed_at)].append((record.image_id, event.to_json_bytes()))
        report.events += 1
    return hours


def backfill(
    s3: S3Client,
    get: Callable[[str, str], bytes],
    bucket: str,
    metadata_prefix: str,
    archive_prefix: str,
    threads: int = 16,
    per_file: int = EVENTS_PER_FILE,
    progress: bool = True,
) -> BackfillReport:
    report = BackfillReport()
    keys = [key for key in list_keys(s3, bucket, metadata_prefix) if not key.endswith("/")]
    report.listed = len(keys)

    def fetch(key: str) -> tuple[str, bytes | None]:
        try:
            return key, get(bucket, key)
        except ObjectNotFound:
            return key, None

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        bodies = tqdm(
            pool.map(fetch, keys),
            total=len(keys),
            desc="reading metadata",
            unit=" records",
            disable=None if progress else True,
        )
        hours = events_by_hour(bodies, report)
    for hour, items in sorted(hours.items()):
        items.sort()
        for number, start in enumerate(range(0, len(items), per_file)):
            key = backfill_key(archive_prefix, hour, number)
            body = encode_file(line for _, line in items[start : start + per_file])
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
            report.files.append(key)
    return report
