"""Runs over the detection archive (`pipeline_common/contracts/detection_archive.py`):
hour files of detection events instead of one metadata object per image.

What a run lists and reads:
- a **full** recount lists every file of the archive and reads them all;
- an **incremental** run lists only the hours from its base run's listing (less
  `lateness`, for batches written late) to now, compares them with the base's ledger of
  files (key and ETag, kept only for the hours a later run may list again) and reads the
  new files alone. A listed file rewritten or deleted since makes it a full recount.

An image processed twice (a consumer redelivery, a backfill beside the archiver's own
files, an interrupted compaction) has several events; like its metadata object, which
the last processing overwrote, it counts once, as its latest event (greatest
`processed_at`, then file and line). The job does that (`--one-per-image`: its first step
groups the events by image id) and says which images it counted; every file is read once,
by the job. An image already counted by the base run (the base's `_images.txt.gz`) makes
the run a full recount, since its old contribution is in the base's totals: the driver
checks that before it publishes anything, and then recounts everything.
"""

from __future__ import annotations

import gzip
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from pipeline_common.contracts.detection_archive import HOUR, hour_prefixes, is_archive_file, key_hour
from pipeline_common.s3 import S3Client, list_folders, list_range

from .increments import FULL, INCREMENTAL, Plan

log = logging.getLogger(__name__)

IMAGES_NAME = "_images.txt.gz"


def window_start(listed_at: datetime, lateness: timedelta) -> datetime:
    """The first hour an incremental run after one listed at `listed_at` lists."""
    return listed_at - lateness


def list_archive(
    s3: S3Client,
    bucket: str,
    prefix: str,
    since: datetime | None,
    now: datetime,
    threads: int = 16,
    sizes: dict | None = None,
) -> list[tuple[str, str]]:
    """(key, etag) of the archive's files, in key order: all of them (`since` None), or
    those of the hours from the one holding `since` to the one after `now` (a producer's
    clock a little ahead); each file's size goes into `sizes` when given. Hours are listed
    in parallel (a LIST page follows the one before it, so one long listing is a chain of
    requests); all of them: the days first (`date=` folders), then each of their hours."""
    if since is None:
        days = [day for day in list_folders(s3, bucket, prefix) if day.startswith("date=")]
        prefixes = [f"{prefix}{day}/hour={hour:02d}/" for day in days for hour in range(24)]
    else:
        prefixes = hour_prefixes(prefix, since, now + HOUR)
    if not prefixes:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(prefixes)))) as pool:
        pages = pool.map(lambda hour: list_range(s3, bucket, hour, None, None, sizes), prefixes)
        found = [(key, etag) for page in pages for key, etag in page if archive_file_of(prefix, key)]
    return sorted(found)


def archive_file_of(prefix: str, key: str) -> bool:
    """A file of the archive at `prefix` itself (not of one nested in a folder below it)."""
    return key.startswith(prefix) and is_archive_file(key) and key[len(prefix) :].startswith("date=")


def plan_files(
    listed: list[tuple[str, str]],
    since: datetime | None,
    base_run: str | None,
    counted: Mapping[str, str] | None,
    no_base_reason: str = "",
) -> Plan:
    """Compare the listed files (the hours from `since` on) with the base's ledger of files."""
    everything = [key for key, _ in listed]
    if base_run is None or counted is None or since is None:
        return Plan(FULL, everything, reason=no_base_reason or "full recount asked for")
    listed_keys = dict(listed)
    new = [key for key, _ in listed if key not in counted]
    changed = [key for key, etag in listed if key in counted and counted[key] != etag]
    first = since.replace(minute=0, second=0, microsecond=0)
    gone = sorted(key for key in counted if key not in listed_keys and key_hour(key) >= first)
    if changed or gone:
        reason = (
            f"{len(changed)} archive file(s) counted by run {base_run} were rewritten and {len(gone)} deleted since"
        )
        return Plan(FULL, everything, reason=reason, changed=changed, gone=gone)
    return Plan(INCREMENTAL, new, base_run=base_run)


# A map task's share of a run over the archive is weighed as its files' bytes plus, per
# file, what its GET costs in bytes (a small file costs its request more than its bytes).
GET_COST_BYTES = 16_384
# A map task's least share: about 200,000 events compacted (a few seconds of one core's
# work); less costs more in starting and feeding processes than it saves, above all on a
# busy machine (measured: 100,000 events as two -r local tasks took longer than as one).
MIN_SPLIT_BYTES = 8 << 20


def splits(keys: list[str], sizes: Mapping[str, int], parts: int) -> list[list[str]]:
    """`keys` (in order) cut into at most `parts` groups of about the same weight, each of
    at least MIN_SPLIT_BYTES (so a small increment is one group); always one group at least."""
    weights = [sizes.get(key, 0) + GET_COST_BYTES for key in keys]
    total = sum(weights)
    count = max(1, min(parts, total // MIN_SPLIT_BYTES))
    groups: list[list[str]] = [[]]
    done = 0
    for key, weight in zip(keys, weights, strict=True):
        if done >= total * len(groups) / count and len(groups) < count:
            groups.append([])
        groups[-1].append(key)
        done += weight
    return groups


def ledger_entries(files: Iterable[tuple[str, str]], keep_from: datetime) -> list[tuple[str, str]]:
    """The files a later run may list again: those of the hours from `keep_from` on."""
    first = keep_from.replace(minute=0, second=0, microsecond=0)
    return sorted((key, etag) for key, etag in files if key_hour(key) >= first)


def encode_images(image_ids: Iterable[str]) -> bytes:
    return gzip.compress("".join(f"{image_id}\n" for image_id in sorted(image_ids)).encode("ascii"), compresslevel=5)


def decode_images(payload: bytes) -> set[str]:
    return set(gzip.decompress(payload).decode("ascii").split())
