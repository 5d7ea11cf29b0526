"""Compaction: each closed hour of the detection archive merged into one large file.

The archiver writes a file per partition at least every ARCHIVER_FLUSH_S seconds (the
dashboard's batch lateness bounds that interval), so a quiet hour ends up with dozens of
files of a dozen events, and an aggregation pays one GET per file. Once an hour is closed
(it ended at least `min_age` ago: no incremental aggregation lists it again, and the
archiver writes there only after a longer outage), `detection-archiver compact` merges it:

1. list the hour's files (key and ETag) and read them all;
2. take the distinct event lines, sorted, into files of at most `per_file` events named
   `compact-<digest>-<n>.jsonl.gz`, the digest being that of the content: the same events
   always give the same names and bytes;
3. write those files, and only then
4. list the hour again and delete the files read in 1 that are still there with the same
   ETag (a file rewritten meanwhile is kept, and merged the next time).

Interrupted anywhere, nothing is lost (a file is deleted only after a written file holds
its events) and no count changes: an event both in a compacted file and in its source is
the same event of the same image, and the aggregation counts an image once (its latest
event). Running it again reads the same distinct events, writes files of the same names
and content, and deletes what is left of the sources: a re-run duplicates nothing. An
hour holding a file that cannot be read (not gzip) is left as it is and reported.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from tqdm import tqdm

from pipeline_common.contracts import ContractError
from pipeline_common.contracts.detection_archive import (
    HOUR,
    compact_key,
    decode_file,
    encode_file,
    is_archive_file,
    key_hour,
)
from pipeline_common.s3 import S3Client, list_folders, list_range

log = logging.getLogger(__name__)

# Closed: an hour that ended this long ago. Incremental aggregations list the hours from
# their base run's start less AGGREGATION_ARCHIVE_LATENESS_S (2 h); one more hour keeps
# compaction out of every window of a scheduler running every 15 minutes.
DEFAULT_MIN_AGE = timedelta(hours=3)
EVENTS_PER_FILE = 200_000  # about 10 MB compressed


@dataclass
class CompactionReport:
    hours_listed: int = 0
    hours_compacted: int = 0
    files_read: int = 0
    files_written: int = 0
    files_deleted: int = 0
    events: int = 0  # distinct events in the compacted hours
    kept: list[str] = field(default_factory=list)  # files rewritten during the compaction, left for next time
    unreadable: list[str] = field(default_factory=list)  # files that are not gzip: their hour left as it is

    def add(self, other: "CompactionReport") -> None:
        for name in ("hours_compacted", "files_read", "files_written", "files_deleted", "events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.kept += other.kept
        self.unreadable += other.unreadable


def is_closed(hour: datetime, now: datetime, min_age: timedelta) -> bool:
    return hour + HOUR + min_age <= now


def merge(bodies: Iterable[bytes], per_file: int = EVENTS_PER_FILE) -> tuple[str, list[list[bytes]]]:
    """The distinct event lines of the files `bodies`, sorted, in chunks of at most
    `per_file`, and the digest naming them. ContractError when a body is not a file."""
    lines = sorted({line for body in bodies for line in decode_file(body)})
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line + b"\n")
    chunks = [lines[start : start + per_file] for start in range(0, len(lines), per_file)]
    return digest.hexdigest()[:20], chunks


def closed_hours(s3: S3Client, bucket: str, prefix: str, now: datetime, min_age: timedelta) -> list[str]:
    """Prefixes (`<prefix>date=.../hour=../`) of the archive's closed hours, oldest first."""
    found = []
    for day in sorted(list_folders(s3, bucket, prefix)):
        if not day.startswith("date="):
            continue
        for hour in sorted(list_folders(s3, bucket, f"{prefix}{day}/")):
            folder = f"{prefix}{day}/{hour}/"
            try:
                start = key_hour(f"{folder}x.jsonl.gz")
            except ContractError:
                continue
            if is_closed(start, now, min_age):
                found.append(folder)
    return found


def _listed(s3: S3Client, bucket: str, folder: str) -> dict[str, str]:
    """key -> ETag of the archive files directly in the hour folder `folder`."""
    return {
        key: etag
        for key, etag in list_range(s3, bucket, folder)
        if "/" not in key[len(folder) :] and is_archive_file(key)
    }


def compact_hour(
    s3: S3Client,
    get: Callable[[str, str], bytes],
    bucket: str,
    folder: str,
    per_file: int = EVENTS_PER_FILE,
    delete: bool = True,
) -> CompactionReport:
    """Compact one hour folder (the steps in the module's docstring); `delete=False` stops
    after writing (what an interrupted compaction leaves)."""
    report = CompactionReport()
    listed = _listed(s3, bucket, folder)
    if len(listed) <= 1:
        return report  # one file already (compacted, or a backfill's): nothing to merge
    keys = sorted(listed)
    bodies = [get(bucket, key) for key in keys]
    try:
        digest, chunks = merge(bodies, per_file)
    except ContractError:
        bad = [key for key, body in zip(keys, bodies, strict=True) if not _readable(body)]
        log.error("s3://%s/%s: not compacted, unreadable file(s): %s", bucket, folder, ", ".join(bad))
        report.unreadable += bad
        return report
    hour = key_hour(keys[0])
    written = [compact_key(folder[: folder.index("date=")], hour, digest, n) for n in range(len(chunks))]
    report.files_read += len(keys)
    report.events += sum(len(chunk) for chunk in chunks)
    for key, chunk in zip(written, chunks, strict=True):
        s3.put_object(Bucket=bucket, Key=key, Body=encode_file(chunk), ContentType="application/gzip")
    report.files_written += len(written)
    report.hours_compacted += 1
    if not delete:
        return report
    now_listed = _listed(s3, bucket, folder)
    gone = [key for key in keys if key not in written and now_listed.get(key) == listed[key]]
    kept = [key for key in keys if key not in written and key in now_listed and now_listed[key] != listed[key]]
    for start in range(0, len(gone), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in gone[start : start + 1000]]})
    report.files_deleted += len(gone)
    report.kept += kept
    if kept:
        log.warning("s3://%s/%s: %d file(s) rewritten while compacting, kept for next time", bucket, folder, len(kept))
    log.info(
        "s3://%s/%s: %d file(s) -> %d (%d event(s))",
        bucket,
        folder,
        len(keys),
        len(written),
        sum(len(chunk) for chunk in chunks),
    )
    return report


def _readable(body: bytes) -> bool:
    try:
        decode_file(body)
    except ContractError:
        return False
    return True


def compact(
    s3: S3Client,
    get: Callable[[str, str], bytes],
    bucket: str,
    prefix: str,
    now: datetime,
    min_age: timedelta = DEFAULT_MIN_AGE,
    per_file: int = EVENTS_PER_FILE,
    threads: int = 8,
    progress: bool = True,
) -> CompactionReport:
    """Compact every closed hour of the archive under `prefix` (already compacted hours cost
    one LIST request each)."""
    report = CompactionReport()
    folders = closed_hours(s3, bucket, prefix, now, min_age)
    report.hours_listed = len(folders)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        done = pool.map(lambda folder: compact_hour(s3, get, bucket, folder, per_file), folders)
        bar = tqdm(done, total=len(folders), desc="compacting", unit=" hours", disable=None if progress else True)
        for hour in bar:
            report.add(hour)
    return report
