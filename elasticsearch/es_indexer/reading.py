"""Reading a run's part-* files: one Aggregate per line, malformed lines reported
with their S3 key and line number and skipped."""

from __future__ import annotations

import queue
import threading
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


def parse_lines(lines: Iterable[tuple[str, int, bytes | str]], skipped: list[SkippedLine]) -> Iterator[Aggregate]:
    """Aggregates from (key, line number, text); bad lines are appended to `skipped`.

    Whitespace-only lines carry nothing and are passed over. A second line for the
    same (label, source, interval, bucket) would overwrite the first in the index, so
    it is reported rather than silently replacing a count."""
    first_seen: dict[tuple, tuple[str, int]] = {}
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
            seen_key, seen_number = first_seen[bucket]
            skipped.append(SkippedLine(key, number, f"duplicate of the aggregate at {seen_key}:{seen_number}"))
            continue
        first_seen[bucket] = (key, number)
        yield aggregate


def s3_lines(s3: S3Client, bucket: str, keys: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
    """(key, 1-based line number, line) of each object, streamed."""
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        for number, line in enumerate(body.iter_lines(), start=1):
            yield key, number, line


_DONE = object()


class ReadAhead:
    """The items of `items`, made by a reader thread up to `depth` ahead of the consumer:
    reading S3 and parsing lines go on while the consumer waits for a bulk request. Items
    travel in batches (a quarter of `depth`), so the hand-over costs a lock per batch, not
    per item. An exception in the reader reaches the consumer after the items made before
    it; closing the consumer's side early (or an error there) stops the reader."""

    def __init__(self, items: Iterable, depth: int = 2000) -> None:
        self._items = items
        self._batch = max(1, depth // 4)
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth // self._batch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="s3-read-ahead", daemon=True)

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        batch: list = []
        try:
            for item in self._items:
                batch.append(item)
                if len(batch) == self._batch:
                    if not self._put((batch, None)):
                        return
                    batch = []
        except BaseException as error:  # handed to the consumer, raised there
            self._put((batch, error))
            return
        self._put((batch, _DONE))

    def __iter__(self) -> Iterator:
        self._thread.start()
        try:
            while True:
                batch, end = self._queue.get()
                yield from batch
                if end is _DONE:
                    return
                if end is not None:
                    raise end
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
