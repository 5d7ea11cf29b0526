"""The archiver's loop: events of each partition are gathered into a batch; a batch is
written as one file (`contracts/detection_archive.py`) and only then are its offsets
committed. A batch holds the events of one partition from one hour (of their Kafka
timestamps), and its file is named by its first offset, so the batch read again after a
crash (written, not committed) gets the same name and overwrites the file: the archive
holds every event once, in effect exactly once.

A batch is written when the next event belongs to another hour, when it holds
`max_records` events, `flush_s` seconds after its first event, before its partition is
revoked, and at shutdown."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaException, TopicPartition

from pipeline_common.clients import s3_client
from pipeline_common.contracts import ContractError, parse_detection_event
from pipeline_common.contracts.detection_archive import encode_file, hour_floor, part_key
from pipeline_common.kafka import BatchConsumer, RunLimits, RunOutcome, RunWatch, check_polled_error, partition_names
from pipeline_common.retry import Backoff
from pipeline_common.s3 import S3Client, S3Failure, classify
from pipeline_common.timestamps import from_epoch_millis, utc_now

from . import metrics
from .settings import ArchiverSettings

log = logging.getLogger(__name__)


class FatalError(RuntimeError):
    """A service refused the archiver's credentials or rights: retrying cannot help."""


class Stopped(Exception):
    """Shutdown was asked for while a write was being retried: that batch stays uncommitted."""


@dataclass
class Summary(RunOutcome):
    received: int = 0
    archived: int = 0
    skipped: int = 0
    files: int = 0


@dataclass
class Batch:
    partition: int
    hour: datetime
    first_offset: int
    opened: float  # monotonic time of its first event
    last_offset: int = -1
    lines: list[bytes] = field(default_factory=list)


def message_hour(message, value_time: datetime | None) -> datetime:
    """The hour of a message: its Kafka timestamp (the producer's, or the broker's with
    LogAppendTime), else the event's processing time."""
    kind, millis = message.timestamp()
    if kind != TIMESTAMP_NOT_AVAILABLE and millis >= 0:
        return hour_floor(from_epoch_millis(millis))
    if value_time is not None:
        return hour_floor(value_time)
    return hour_floor(utc_now())


@dataclass
class Archiver:
    consumer: BatchConsumer
    s3: S3Client
    bucket: str
    topic: str
    prefix: str
    stop: threading.Event
    flush_s: float = 120.0
    max_records: int = 50_000
    backoff: Backoff = Backoff()  # between tries of an S3 write that failed for a while
    limits: RunLimits = RunLimits()
    summary: Summary = field(default_factory=Summary)

    def __post_init__(self) -> None:
        self._batches: dict[int, Batch] = {}

    @classmethod
    def from_settings(
        cls, settings: ArchiverSettings, consumer: BatchConsumer, stop: threading.Event, limits: RunLimits
    ) -> Archiver:
        """The archiver `settings` describe, reading with `consumer` (subscribed by `run`)."""
        return cls(
            consumer=consumer,
            s3=s3_client(settings.s3),
            bucket=settings.s3.bucket,
            topic=settings.kafka.detections_topic,
            prefix=settings.prefix,
            stop=stop,
            flush_s=settings.flush_s,
            max_records=settings.max_records,
            backoff=Backoff(settings.retry_initial_s, settings.retry_max_s),
            limits=limits,
        )

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> Summary:
        self._watch = RunWatch(self.limits, self.stop, "event")
        self._watch.subscribe(self.consumer, [self.topic], self._on_revoke, self._on_lost)
        try:
            while not self._finished():
                wait = min(1.0, self.flush_s)
                for message in self.consumer.consume(num_messages=1000, timeout=wait):
                    self._add(message)
                self._flush_due()
            self._flush_all()
        except Stopped:
            self.summary.stopped_by = "shutdown requested (the batch being written is read again next time)"
        except FatalError as error:
            self.summary.stop_fatal(error)
        return self.summary

    def _finished(self) -> bool:
        return self.summary.stop_for(self._watch.why_stop(self.summary.received))

    def _add(self, message) -> None:
        if message.error() is not None:
            check_polled_error(message.error(), FatalError)
            return
        self.summary.received += 1
        self._watch.seen()
        value = message.value() or b""
        try:
            event = parse_detection_event(value)
        except ContractError as problem:
            event = None
            self.summary.skipped += 1
            metrics.EVENTS_SKIPPED.inc()
            log.warning(
                "%s/%d@%d is no detection event, not archived (the live indexer dead-letters it): %s",
                message.topic(),
                message.partition(),
                message.offset(),
                problem,
            )
        hour = message_hour(message, event.processed_at if event else None)
        partition, offset = message.partition(), message.offset()
        batch = self._batches.get(partition)
        if batch is not None and batch.hour != hour:
            self._flush(batch)
            batch = None
        if batch is None:
            batch = self._batches[partition] = Batch(partition, hour, offset, time.monotonic())
        batch.last_offset = offset
        if event is not None:
            batch.lines.append(event.to_json_bytes())
        if len(batch.lines) >= self.max_records:
            self._flush(batch)

    def _flush_due(self) -> None:
        now = time.monotonic()
        for batch in [b for b in self._batches.values() if now - b.opened >= self.flush_s]:
            self._flush(batch)

    def _flush_all(self, partitions: set[int] | None = None) -> None:
        for batch in [b for p, b in self._batches.items() if partitions is None or p in partitions]:
            self._flush(batch)

    def _flush(self, batch: Batch) -> None:
        """Write the batch's file (retried until it is in S3), then commit its offsets."""
        self._batches.pop(batch.partition, None)
        if batch.lines:
            key = part_key(self.prefix, batch.hour, batch.partition, batch.first_offset)
            self._put(key, encode_file(batch.lines))
            self.summary.archived += len(batch.lines)
            self.summary.files += 1
            metrics.EVENTS_ARCHIVED.inc(len(batch.lines))
            metrics.FILES_WRITTEN.inc()
            log.info(
                "%s/%d@%d-%d: %d event(s) -> s3://%s/%s",
                self.topic,
                batch.partition,
                batch.first_offset,
                batch.last_offset,
                len(batch.lines),
                self.bucket,
                key,
            )
        self._commit(batch.partition, batch.last_offset + 1)

    def _put(self, key: str, body: bytes) -> None:
        delays = self.backoff.delays()
        while True:
            try:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
                return
            except Exception as error:  # classified: only transient failures are retried
                kind = classify(error)
                if kind in (S3Failure.DENIED, S3Failure.NO_BUCKET):
                    raise FatalError(f"S3 refused writing s3://{self.bucket}/{key}: {error}") from error
                if kind is not S3Failure.TRANSIENT:
                    raise
                delay = next(delays)
                log.warning("writing s3://%s/%s failed (%s); retrying in %.1f s", self.bucket, key, error, delay)
            if self.stop.wait(delay):
                raise Stopped()

    def _commit(self, partition: int, next_offset: int) -> None:
        try:
            self.consumer.commit(offsets=[TopicPartition(self.topic, partition, next_offset)], asynchronous=False)
            metrics.LAST_COMMIT.set_to_current_time()
        except KafkaException as error:
            # e.g. the partition moved in a rebalance: its next owner reads the batch
            # again and overwrites the same file
            log.warning("commit of %s/%d@%d failed: %s", self.topic, partition, next_offset, error)

    # --- rebalancing ---------------------------------------------------------------------
    def _on_revoke(self, consumer: BatchConsumer, partitions) -> None:
        log.info("revoking %s: writing their batches first", partition_names(partitions))
        self._flush_all({tp.partition for tp in partitions})

    def _on_lost(self, consumer: BatchConsumer, partitions) -> None:
        log.warning("lost %s: their unwritten batches are read again by the next owner", partition_names(partitions))
        for tp in partitions:
            self._batches.pop(tp.partition, None)
