"""The detection archive: the detection events, batched into hour-partitioned files, as
the Kafka Connect S3 sink writes a topic (`topics/<topic>/date=.../hour=.../`):

    s3://<bucket>/detections/date=2026-11-28/hour=10/part-00002-00000000000000004711.jsonl.gz

One gzip-compressed file per batch: one `DetectionEvent` JSON object per line, in offset
order. The archiver (`archiver/`) writes `part-<partition>-<first offset>` files from the
detections topic: the hour is that of the batch's first message (its Kafka timestamp, in
UTC), and a batch never spans two hours, so a batch read again after a crash gets the
same name and overwrites the file. `detection-archiver backfill` writes
`backfill-<n>` files from the metadata records, in the hour of their processing time, and
`detection-archiver compact` merges a closed hour's files into `compact-<digest>-<n>` files.

The aggregation reads these files (a few large objects instead of one per image), and an
incremental run lists only the hours since the previous run (`hour_prefixes`).
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timedelta, timezone
from typing import Iterable

from .errors import ContractError

ARCHIVE_PREFIX = "detections/"
SUFFIX = ".jsonl.gz"
HOUR = timedelta(hours=1)
COMPACT_STEM = "compact-"
_KEY = re.compile(r"date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/(?P<name>[^/]+)$")


def hour_floor(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ContractError(f"an archive hour needs an aware time, got {moment!r}")
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def hour_prefix(prefix: str, hour: datetime) -> str:
    hour = hour_floor(hour)
    return f"{prefix}date={hour:%Y-%m-%d}/hour={hour:%H}/"


def part_key(prefix: str, hour: datetime, partition: int, first_offset: int) -> str:
    """The archiver's file for a batch of one partition starting at `first_offset`."""
    if partition < 0 or first_offset < 0:
        raise ContractError(f"partition and offset must not be negative, got {partition}, {first_offset}")
    return f"{hour_prefix(prefix, hour)}part-{partition:05d}-{first_offset:020d}{SUFFIX}"


def backfill_key(prefix: str, hour: datetime, number: int) -> str:
    """The backfill's `number`-th file of `hour`."""
    return f"{hour_prefix(prefix, hour)}backfill-{number:05d}{SUFFIX}"


def compact_key(prefix: str, hour: datetime, digest: str, number: int) -> str:
    """The `number`-th file of `hour`'s compaction into content `digest` (hex)."""
    if not re.fullmatch(r"[0-9a-f]{1,64}", digest) or number < 0:
        raise ContractError(f"a compacted file needs a hex digest and a number >= 0, got {digest!r}, {number}")
    return f"{hour_prefix(prefix, hour)}{COMPACT_STEM}{digest}-{number:05d}{SUFFIX}"


def key_hour(key: str) -> datetime:
    """The hour a file's key names; ContractError for a key outside the layout."""
    match = _KEY.search(key)
    if not match or not match["name"].endswith(SUFFIX):
        raise ContractError(f"not a detection archive file: {key!r}")
    try:
        return datetime.strptime(f"{match['date']} {match['hour']}", "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ContractError(f"not a detection archive file: {key!r}") from None


def is_archive_file(key: str) -> bool:
    try:
        key_hour(key)
    except ContractError:
        return False
    return True


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Every hour from the one holding `start` to the one holding `end`, both included."""
    first, last = hour_floor(start), hour_floor(end)
    found = []
    while first <= last:
        found.append(first)
        first += HOUR
    return found


def hour_prefixes(prefix: str, start: datetime, end: datetime) -> list[str]:
    return [hour_prefix(prefix, hour) for hour in hours(start, end)]


def encode_file(lines: Iterable[bytes]) -> bytes:
    """A file's body: the lines (each one event's compact JSON, no newline in it), gzipped."""
    body = bytearray()
    for line in lines:
        if b"\n" in line:
            raise ContractError("an archived event must be one line")
        body += line + b"\n"
    return gzip.compress(bytes(body), compresslevel=6, mtime=0)


def decode_file(payload: bytes) -> list[bytes]:
    """The lines of a file (empty lines dropped); ContractError when it is not gzip."""
    try:
        text = gzip.decompress(payload)
    except (OSError, EOFError) as error:
        raise ContractError(f"not a gzip file: {error}") from None
    return [line for line in text.split(b"\n") if line.strip()]
