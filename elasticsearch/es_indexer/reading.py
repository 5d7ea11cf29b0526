"""Reading a run's part-* files: one Aggregate per line, malformed lines reported
with their S3 key and line number and skipped."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from pipeline_common.contracts import Aggregate, ContractError
from pipeline_common.s3 import S3Client


@dataclass(frozen=True)
class SkippedLine:
    key: str
    line_number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.key}:{self.line_number}: {self.reason}"


def parse_lines(
    lines: Iterable[tuple[str, int, bytes | str]], skipped: list[SkippedLine]
) -> Iterator[Aggregate]:
    """Aggregates from (key, line number, text); bad lines are appended to `skipped`.

    Whitespace-only lines carry nothing and are passed over. A second line for the
    same (label, source, interval, bucket) would overwrite the first in the index, so
    it is reported rather than silently replacing a count."""
    first_seen: dict[tuple, str] = {}
    for key, number, text in lines:
        if not text.strip():
            continue
        try:
            aggregate = Aggregate.from_line(text)
        except ContractError as error:
            skipped.append(SkippedLine(key, number, str(error)))
            continue
        # the fields of the document id (times are UTC datetimes, so equal instants match)
        bucket = (aggregate.label, aggregate.source, aggregate.interval, aggregate.bucket_start)
        if bucket in first_seen:
            skipped.append(SkippedLine(key, number, f"duplicate of the aggregate at {first_seen[bucket]}"))
            continue
        first_seen[bucket] = f"{key}:{number}"
        yield aggregate


def s3_lines(s3: S3Client, bucket: str, keys: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
    """(key, 1-based line number, line) of each object, streamed."""
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        for number, line in enumerate(body.iter_lines(), start=1):
            yield key, number, line
