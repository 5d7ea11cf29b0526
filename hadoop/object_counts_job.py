"""MapReduce job: detections and images per (label, source, time bucket).

Input, one line per record, in one of two formats (``--input-format``):

- ``records``: each line is a MetadataRecord JSON object (a metadata object read
  directly, or a JSON-lines file of them);
- ``manifest``: each line names one metadata object (``s3://bucket/key``, or a local
  path); the mapper fetches the objects itself, many at a time in a thread pool.
  This is how ``run_aggregation.py`` feeds the job: one GET per object is slow, but
  thousands of tiny input files are far slower in Hadoop (one split and task each).
  A line ``aggregates<TAB><uri>`` names a file of ``Aggregate`` lines instead (an
  earlier run's totals): an incremental run adds the new records' counts to them, and a
  line ``events<TAB><uri>`` a file of the detection archive.

Output: one ``Aggregate.to_line()`` JSON object per line.

With ``--one-per-image`` (runs over the detection archive) an image with several events
(processed again; a backfill beside the archiver's files; a compaction interrupted)
counts once, as its latest event (greatest ``processed_at``, then file, then line), as its
metadata object, which the last processing overwrote, would: the first step brings each
image's events together (in groups by the first characters of the image id), each reducer
keeps an image's latest and adds its counts to the task's sums, the second step adds up
the sums. The output
then also holds the ids of the images counted, in lines ``{"images":[...],...}``
(``IMAGES_FIELD``), which the run keeps apart from its totals (``is_images_line``). Each
archive file is read once, by the job.

A record is bucketed by ``captured_at`` (converted to UTC). When ``captured_at`` is
absent, not a string, not ISO-8601 or has no time zone, the record is bucketed by
``processed_at`` instead and counted under ``timestamps / bucketed by processed_at``.
Records that cannot be read are counted under ``bad records / <reason>`` and skipped.

S3 settings for the manifest format come from ``S3Settings.from_env()`` in the task
(the runner ships an env file and points ``PIPELINE_DOTENV`` at it).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator

from mrjob.compat import jobconf_from_env
from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, RawValueProtocol
from mrjob.step import MRStep

from pipeline_common.contracts import (
    Aggregate,
    ContractError,
    DetectionEvent,
    Interval,
    MetadataRecord,
    bucket_start,
    canonical_label,
    parse_detection_event,
    parse_s3_uri,
)
from pipeline_common.contracts.detection_archive import decode_file
from pipeline_common.contracts.metadata_counting import BadRecord, parse_record
from pipeline_common.timestamps import EPOCH, parse_iso, to_iso

log = logging.getLogger(__name__)

# counter groups
BAD_RECORDS = "bad records"
RECORDS = "records"
TIMESTAMPS = "timestamps"

# Hadoop settings of the output step (see MRObjectCounts.steps)
VERBATIM_OUTPUT = {
    "stream.map.output.field.separator": ",",
    "mapreduce.output.textoutputformat.separator": ",",
}

# ... and of the reducer that writes the lines with --one-per-image
VERBATIM_REDUCER_OUTPUT = {
    "stream.reduce.output.field.separator": ",",
    "mapreduce.output.textoutputformat.separator": ",",
}

# manifest lines naming a file of Aggregate lines (an earlier run's totals) start so
AGGREGATES_TAG = "aggregates"
# ... and those naming a file of the detection archive (gzipped DetectionEvent lines)
EVENTS_TAG = "events"
TAGS = {AGGREGATES_TAG, EVENTS_TAG}
MICROSECOND = timedelta(microseconds=1)
# --one-per-image: the key of an image's events in the first step, and of a chunk of the
# counted images' ids afterwards (totals have three-part keys: label, source, bucket)
IMAGE_KEY = "image"
IMAGES_KEY = "images"
IMAGES_FIELD = "images"
IMAGES_PER_LINE = 10_000
# ... the events go to the reducers in groups (by the first characters of the image id, so
# all of an image's events meet in one reducer) of up to GROUP_EVENTS: a few thousand
# records to sort and pass between processes instead of one per event
GROUP_CHARS = 2
GROUP_EVENTS = 1_000
_IMAGES_LINE_START = ('{"' + IMAGES_FIELD + '":').encode("ascii")


def parse_entry(line: str) -> tuple[str, str]:
    """("metadata" | "aggregates" | "events", uri) of one manifest line."""
    tag, tab, uri = line.partition("\t")
    if tab and tag in TAGS:
        return tag, uri
    return "metadata", line


def images_line(image_ids: list[str]) -> str:
    return json.dumps({IMAGES_FIELD: image_ids, "schema_version": 1}, separators=(",", ":"))


def is_images_line(line: bytes) -> bool:
    return line.startswith(_IMAGES_LINE_START)


def images_of_line(line: bytes) -> list[str]:
    return json.loads(line)[IMAGES_FIELD]


def latest_events(groups: Iterable[list]) -> tuple[dict[str, list], int]:
    """Each image's latest event (greatest processed_at, then file, then line) among the
    groups of `[image_id, processed_us, uri, line, contributions]` events: image id ->
    contributions, and how many events they replace."""
    chosen: dict[str, tuple] = {}
    seen = 0
    for group in groups:
        for image_id, processed_us, uri, number, counts in group:
            seen += 1
            order = (processed_us, uri, number)
            held = chosen.get(image_id)
            if held is None or order > held[0]:
                chosen[image_id] = (order, counts)
    return {image_id: counts for image_id, (_, counts) in chosen.items()}, seen - len(chosen)


class BaseTotalsError(RuntimeError):
    """An earlier run's totals cannot be read: the run fails rather than lose counts."""


@lru_cache(maxsize=1 << 16)
def _bucket_text(start: datetime) -> str:
    # the events of a file share a few buckets; formatting a time is a tenth of a map task's work
    return to_iso(start)


def event_counts(event: DetectionEvent, interval: Interval) -> list[tuple[list, list]]:
    """Map output for one archived detection event: the same as `label_counts` for the
    metadata record it was made from."""
    start = _bucket_text(bucket_start(event.captured_at, interval))
    per_label: Counter = Counter()
    for label, count in event.counts.items():
        per_label[canonical_label(label)] += count
    return [([label, event.source, start], [count, 1]) for label, count in sorted(per_label.items())]


def label_counts(record: MetadataRecord, interval: Interval) -> list[tuple[list, list]]:
    """Map output for one record: ([label, source, bucket_start], [detections, 1])
    per label it contains (the 1 is this image). Labels are counted under their
    canonical COCO name, so records written with darknet's older spelling
    ("motorbike") add to the same series as new ones ("motorcycle")."""
    start = to_iso(bucket_start(record.captured_at, interval))
    per_label = Counter(canonical_label(detection.label) for detection in record.detections)
    return [([label, record.source, start], [count, 1]) for label, count in sorted(per_label.items())]


def sum_counts(values: Iterable[list]) -> list[int]:
    detections = images = 0
    for d, i in values:
        detections += d
        images += i
    return [detections, images]


def aggregate_line(key: list, totals: list[int], interval: Interval) -> str:
    label, source, start = key
    detections, images = totals
    return Aggregate(
        label=label,
        source=source,
        interval=interval,
        bucket_start=parse_iso(start),
        detections=detections,
        images=images,
    ).to_line()


def base_counts(payload: bytes, interval: Interval, where: str) -> Iterator[tuple[list, list]]:
    """Map output for an earlier run's totals: the same keys as `label_counts`, with
    (detections, images) as they are, so the reducer adds them to the new records."""
    for number, line in enumerate(payload.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            aggregate = Aggregate.from_line(line)
        except ContractError as error:
            raise BaseTotalsError(f"{where}:{number}: {error}") from None
        if aggregate.interval is not interval:
            raise BaseTotalsError(
                f"{where}:{number}: {aggregate.interval.value} buckets, this run counts {interval.value} buckets"
            )
        yield (
            [aggregate.label, aggregate.source, to_iso(aggregate.bucket_start)],
            [aggregate.detections, aggregate.images],
        )


def read_object(uri: str, s3_reader: Callable[[], Any]) -> bytes:
    """Body of one manifest entry: an s3:// (or s3a://) URI or a local path. A missing
    object raises FileNotFoundError (the S3 reader's ObjectNotFound is one)."""
    if uri.startswith(("s3://", "s3a://")):
        bucket, key = parse_s3_uri(uri)
        return s3_reader().get(bucket, key)
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    with open(path, "rb") as handle:
        return handle.read()


class MRObjectCounts(MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    # the value is the Aggregate line, written as is, without a key
    OUTPUT_PROTOCOL = RawValueProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--interval",
            choices=[i.value for i in Interval],
            default=Interval.HOUR.value,
            help="bucket length (default: hour)",
        )
        self.add_passthru_arg(
            "--input-format",
            choices=["records", "manifest"],
            default="records",
            help="records: a JSON metadata record per line; manifest: a URI per line (default: records)",
        )
        self.add_passthru_arg(
            "--fetch-threads",
            type=int,
            default=16,
            help="manifest format: objects fetched concurrently per map task (default: 16)",
        )
        self.add_passthru_arg(
            "--one-per-image",
            action="store_true",
            help="archive files: count each image once, as its latest event, and write the ids of the images "
            'counted (lines of {"images": [...]})',
        )

    def steps(self):
        if self.options.one_per_image:
            return [
                # no combiner: an image's events rarely share a map task
                MRStep(
                    mapper_init=self.mapper_init,
                    mapper=self.mapper,
                    mapper_final=self.mapper_final,
                    reducer_init=self.reduce_latest_init,
                    reducer=self.reduce_latest,
                    reducer_final=self.reduce_latest_final,
                ),
                # no mapper either (no task process on -r local); the reducer writes the
                # lines, verbatim as in the output step below
                MRStep(
                    reducer_init=self.write_line_init,
                    reducer=self.add_up_and_write,
                    reducer_final=self.write_line_final,
                    jobconf=VERBATIM_REDUCER_OUTPUT,
                ),
            ]
        return [
            MRStep(
                mapper_init=self.mapper_init,
                mapper=self.mapper,
                mapper_final=self.mapper_final,
                combiner=self.combiner,
                reducer=self.reducer,
            ),
            self._output_step(),
        ]

    def _output_step(self) -> MRStep:
        # Hadoop streaming writes each output line as key, separator, value and
        # makes a line without a tab all key, so every line would gain a trailing
        # tab. This map-only step writes the lines with Hadoop splitting them at
        # their first comma (every Aggregate line has several) and joining them back
        # with a comma: unchanged. (An empty separator is dropped by
        # Hadoop's option parsing, and the combiner shares the reducer's separator,
        # hence a step of its own.)
        return MRStep(
            mapper_init=self.write_line_init,
            mapper=self.write_line,
            mapper_final=self.write_line_final,
            jobconf=VERBATIM_OUTPUT,
        )

    # --- map ---------------------------------------------------------------------

    def mapper_init(self):
        self._interval = Interval.parse(self.options.interval)
        self._tally: Counter = Counter()  # (group, counter) -> amount, reported at the end
        self._input_name = jobconf_from_env("mapreduce.map.input.file", "input")
        self._in_flight: deque = deque()  # (kind, uri, future) in manifest order
        self._pool = None
        self._s3 = None
        self._groups: dict[str, list] = {}  # --one-per-image: events by the start of their image id

    def mapper(self, _, line):
        if self.options.input_format == "records":
            yield from self._count(line, self._input_name)
            return
        entry = line.strip()
        if not entry:
            self._tally[BAD_RECORDS, "empty manifest line"] += 1
            return
        kind, uri = parse_entry(entry)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.options.fetch_threads))
        self._in_flight.append((kind, uri, self._pool.submit(self._read_safely, uri)))
        # a window of a few requests per thread keeps every thread busy while the
        # oldest results are counted
        while len(self._in_flight) > 4 * self.options.fetch_threads:
            yield from self._count_fetched(*self._in_flight.popleft())

    def mapper_final(self):
        while self._in_flight:
            yield from self._count_fetched(*self._in_flight.popleft())
        for group_key, group in sorted(self._groups.items()):
            if group:
                yield [IMAGE_KEY, group_key], group
        if self._pool is not None:
            self._pool.shutdown()
        self._report_tally()

    def _report_tally(self):
        # one counter line per name: each increment_counter writes and flushes stderr,
        # which per record costs more than the record itself
        for (group, name), amount in sorted(self._tally.items()):
            self.increment_counter(group, name, amount)

    def _count_fetched(self, kind: str, uri: str, future) -> Iterator[tuple[list, list]]:
        body, error = future.result()
        if kind == AGGREGATES_TAG:
            if error is not None:  # a missing part of the base would silently lose counts
                raise BaseTotalsError(f"{uri}: cannot read an earlier run's totals: {error}")
            self._tally[RECORDS, "earlier totals files read"] += 1
            yield from base_counts(body, self._interval, uri)
            return
        if kind == EVENTS_TAG:
            if error is not None:  # a listed archive file that cannot be read would lose counts
                raise error
            yield from self._count_events(body, uri)
            return
        if error is not None:
            if not isinstance(error, FileNotFoundError):
                # anything but a vanished object fails the task (after the client's
                # own retries) rather than publishing partial counts
                raise error
            log.warning("%s: object not found, skipped", uri)
            self._tally[BAD_RECORDS, "object not found"] += 1
            return
        yield from self._count(body, uri)

    def _read_safely(self, uri: str):
        try:
            return read_object(uri, self._s3_reader), None
        except Exception as error:  # re-raised in the task thread unless a 404
            return None, error

    def _s3_reader(self):
        # built once, on the first s3:// entry; it keeps a connection per thread
        if self._s3 is None:
            from pipeline_common.s3_reader import S3ObjectReader
            from pipeline_common.settings import S3Settings

            self._s3 = S3ObjectReader(S3Settings.from_env())
        return self._s3

    def _count(self, payload, where: str) -> Iterator[tuple[list, list]]:
        self._tally[RECORDS, "read"] += 1
        try:
            record, fallback = parse_record(payload)
        except BadRecord as bad:
            log.warning("%s: bad record skipped: %s", where, bad)
            self._tally[BAD_RECORDS, bad.reason] += 1
            return
        if fallback:
            self._tally[TIMESTAMPS, f"bucketed by processed_at ({fallback})"] += 1
        if not record.detections:
            self._tally[RECORDS, "without detections"] += 1
        yield from label_counts(record, self._interval)

    def _count_events(self, body: bytes, uri: str) -> Iterator[tuple[list, list]]:
        self._tally[RECORDS, "archive files read"] += 1
        try:
            lines = decode_file(body)
        except ContractError as error:
            log.warning("%s: unreadable archive file skipped: %s", uri, error)
            self._tally[BAD_RECORDS, "unreadable archive file"] += 1
            return
        one_per_image = self.options.one_per_image
        for number, line in enumerate(lines):
            self._tally[RECORDS, "read"] += 1
            try:
                event = parse_detection_event(line)
            except ContractError as error:
                bad = BadRecord.of(error)
                log.warning("%s:%d: bad event skipped: %s", uri, number, bad)
                self._tally[BAD_RECORDS, bad.reason] += 1
                continue
            if one_per_image:
                counts = [[*key, detections] for key, (detections, _) in event_counts(event, self._interval)]
                group_key = event.image_id[:GROUP_CHARS]
                group = self._groups.setdefault(group_key, [])
                group.append([event.image_id, (event.processed_at - EPOCH) // MICROSECOND, uri, number, counts])
                if len(group) >= GROUP_EVENTS:
                    yield [IMAGE_KEY, group_key], group
                    self._groups[group_key] = []
                continue
            if not event.counts:
                self._tally[RECORDS, "without detections"] += 1
            yield from event_counts(event, self._interval)

    # --- --one-per-image: an image's latest event -------------------------------------

    def reduce_latest_init(self):
        self._tally = Counter()
        self._images: list[str] = []
        self._totals: dict[tuple, list[int]] = {}  # this task's sums, written at its end

    def _add(self, key: tuple, detections: int, images: int) -> None:
        held = self._totals.get(key)
        if held is None:
            self._totals[key] = [detections, images]
        else:
            held[0] += detections
            held[1] += images

    def reduce_latest(self, key, values):
        if len(key) != 2:  # an earlier run's totals
            self._add(tuple(key), *sum_counts(values))
            return
        latest, replaced = latest_events(values)
        if replaced:
            self._tally[RECORDS, "replaced by a later event of the image"] += replaced
        for image_id, counts in latest.items():
            if not counts:
                self._tally[RECORDS, "without detections"] += 1
            for label, source, start, detections in counts:
                self._add((label, source, start), detections, 1)
            self._images.append(image_id)
        yield from ()  # everything is written at the task's end (reduce_latest_final)

    def reduce_latest_final(self):
        for key, totals in sorted(self._totals.items()):
            yield list(key), totals
        self._images.sort()
        for start in range(0, len(self._images), IMAGES_PER_LINE):
            yield [IMAGES_KEY, self._images[start]], self._images[start : start + IMAGES_PER_LINE]
        self._report_tally()

    def add_up_and_write(self, key, values):
        if len(key) == 2:  # chunks of image ids, as they are
            for image_ids in values:
                yield None, images_line(image_ids)
            return
        self._tally[RECORDS, "aggregates written"] += 1
        yield None, aggregate_line(key, sum_counts(values), self._interval)

    # --- combine and reduce ---------------------------------------------------------

    def combiner(self, key, values):
        yield key, sum_counts(values)

    def reducer(self, key, values):
        yield key, sum_counts(values)

    # --- output ----------------------------------------------------------------------

    def write_line_init(self):
        self._tally = Counter()
        self._interval = Interval.parse(self.options.interval)

    def write_line(self, key, totals):
        self._tally[RECORDS, "aggregates written"] += 1
        yield None, aggregate_line(key, totals, self._interval)

    def write_line_final(self):
        self._report_tally()


if __name__ == "__main__":
    MRObjectCounts.run()
