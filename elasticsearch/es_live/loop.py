"""The live indexer's loop: take a batch of detection events, write them to
Elasticsearch, dead-letter what can never be indexed, and only then commit the batch's
offsets. A batch that cannot be written (Elasticsearch down) is retried with backoff and
never committed meanwhile; on shutdown it is left uncommitted and read again next time.
Redelivered events rewrite the same documents (id = image id), so nothing counts twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from confluent_kafka import KafkaException, TopicPartition
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from prometheus_client import Counter

from pipeline_common.clients import MessageProducer
from pipeline_common.contracts.dead_letter import SMALLEST_DEAD_LETTER_BYTES, OriginalMessage, serialize_dead_letter
from pipeline_common.kafka import (
    BatchConsumer,
    RunLimits,
    RunOutcome,
    RunWatch,
    check_polled_error,
    partition_names,
    refused,
    too_large,
    undeliverable,
)
from pipeline_common.retry import Backoff
from pipeline_common.timestamps import utc_now

from . import index
from .alerts import AlertWatch
from .documents import Batch, plan_batch

log = logging.getLogger(__name__)
DOCUMENTS_WRITTEN = Counter(
    "pipeline_live_documents_written", "Live documents Elasticsearch acknowledged (a redelivered event counts again)"
)


class FatalError(RuntimeError):
    """Retrying would not help (credentials refused, a dead letter Kafka will never take):
    the indexer stops, its batch uncommitted."""


class TooLarge(FatalError):
    """Kafka refused a dead letter as too large: the original's hash alone may still go."""


class Stopped(Exception):
    """Shutdown was requested while a batch was being retried; it stays uncommitted."""


@dataclass
class Summary(RunOutcome):
    received: int = 0
    indexed: int = 0  # documents acknowledged (a redelivered event counts again here)
    created: int = 0  # ... of which new images
    dead_lettered: int = 0
    expired: int = 0  # captured before the retention window: left to the batch view
    batches: int = 0
    dropped_indices: list[str] = field(default_factory=list)


@dataclass
class LiveIndexer:
    consumer: BatchConsumer
    es: Elasticsearch
    producer: MessageProducer  # dead letters
    topic: str
    dead_letter_topic: str
    group_id: str
    prefix: str
    retention_days: int
    stop: threading.Event
    batch_size: int = 500
    batch_wait_s: float = 0.5
    retention_check_s: float = 3600.0
    backoff: Backoff = Backoff()  # between tries of a bulk request or a dead letter
    limits: RunLimits = RunLimits()
    clock: Callable[[], datetime] = utc_now
    delivery_timeout_s: float = 40.0
    summary: Summary = field(default_factory=Summary)
    alerts: AlertWatch | None = None  # alert rules checked on the buckets of new images

    def __post_init__(self) -> None:
        self._next_retention = 0.0

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> Summary:
        self._watch = RunWatch(self.limits, self.stop, "event")
        self._watch.subscribe(self.consumer, [self.topic], self._on_revoke, self._on_lost)
        try:
            while not self._finished():
                self._maybe_drop_expired()
                messages = self._poll()
                if messages:
                    self._handle(messages)
                self._check_alerts()
        except Stopped:
            self.summary.stopped_by = "shutdown requested (the batch in flight is read again next time)"
        except (FatalError, index.Refused) as error:
            self.summary.stop_fatal(error)
        return self.summary

    def _finished(self) -> bool:
        return self.summary.stop_for(self._watch.why_stop(self.summary.received))

    def _on_revoke(self, consumer: BatchConsumer, partitions) -> None:
        # every batch is committed before the next poll, so nothing is pending here
        log.info("revoked %s", partition_names(partitions))

    def _on_lost(self, consumer: BatchConsumer, partitions) -> None:
        log.warning("lost %s (session expired?): uncommitted events will be read again", partition_names(partitions))

    def _poll(self) -> list[OriginalMessage]:
        room = self.batch_size
        if self.limits.max_messages is not None:
            room = min(room, self.limits.max_messages - self.summary.received)
        # What is already fetched is taken at once; only when nothing is, wait for the next
        # event (librdkafka's consume() waits for a full batch or the whole timeout, which
        # would hold each event back by up to batch_wait_s), then take what came with it.
        # Under load events pile up during a bulk request, so batches still fill.
        batch = self.consumer.consume(num_messages=room, timeout=0)
        if not batch:
            batch = self.consumer.consume(num_messages=1, timeout=self.batch_wait_s)
            if batch and room > 1:
                batch += self.consumer.consume(num_messages=room - 1, timeout=0)
        received = []
        for message in batch:
            error = message.error()
            if error is not None:
                check_polled_error(error, FatalError)  # librdkafka reconnects by itself
                continue
            received.append(OriginalMessage.from_kafka(message))
        if received:
            self._watch.seen()
            self.summary.received += len(received)
        return received

    # --- one batch -----------------------------------------------------------------------
    def _handle(self, messages: list[OriginalMessage]) -> None:
        now = self.clock()
        batch = plan_batch(messages, self.prefix, now.date(), self.retention_days, now)
        rejected = self._write(batch)
        self._note_for_alerts(batch, rejected)
        for message, reason in batch.malformed:
            self._dead_letter(message, "parse", reason)
        for key, reason in rejected:
            for message in batch.sources[key]:
                self._dead_letter(message, "index", f"Elasticsearch refused document {key[1]} in {key[0]}: {reason}")
        if batch.expired:
            self.summary.expired += len(batch.expired)
            log.info(
                "%d event(s) captured before the %d-day live window (LIVE_RETENTION_DAYS): "
                "not indexed live, the batch view counts them",
                len(batch.expired),
                self.retention_days,
            )
        self._commit(batch)
        self.summary.batches += 1

    def _write(self, batch: Batch) -> list[tuple[tuple[str, str], str]]:
        """Write until every document is acknowledged or rejected for good; the rejected."""
        pending = list(batch.actions.values())
        rejected: list[tuple[tuple[str, str], str]] = []
        delays, attempt = self.backoff.delays(), 0
        while pending:
            outcome = index.write(self.es, pending)
            self.summary.indexed += len(outcome.acknowledged)
            self.summary.created += outcome.created
            DOCUMENTS_WRITTEN.inc(len(outcome.acknowledged))
            rejected += outcome.rejected
            if outcome.acknowledged:
                by_index: dict[str, int] = {}
                for name, _ in outcome.acknowledged:
                    by_index[name] = by_index.get(name, 0) + 1
                log.info("indexed %s", ", ".join(f"{n} into {name}" for name, n in sorted(by_index.items())))
            if not outcome.retry:
                break
            attempt += 1
            retry_keys = {key for key, _ in outcome.retry}
            pending = [a for a in pending if (a["_index"], a["_id"]) in retry_keys]
            wait = next(delays)
            log.warning(
                "%d document(s) not written (attempt %d: %s); retrying in %.1f s, offsets not committed",
                len(pending),
                attempt,
                outcome.retry[0][1],
                wait,
            )
            if self.stop.wait(wait):
                raise Stopped()
        return rejected

    def _note_for_alerts(self, batch: Batch, rejected: list[tuple[tuple[str, str], str]]) -> None:
        if self.alerts is None:
            return
        refused = {key for key, _ in rejected}
        written = [action["_source"] for key, action in batch.actions.items() if key not in refused]
        try:
            self.alerts.written(written)
        except (TransportError, ApiError) as error:  # the counts are safe; alerts wait for the rules
            log.warning("alert rules could not be read (%s); these images are not checked", error)

    def _check_alerts(self) -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.check()
        except (TransportError, ApiError, RuntimeError) as error:  # kept pending, checked again
            log.warning("alert check failed (%s); trying again shortly", error)

    def _dead_letter(self, message: OriginalMessage, stage: str, reason: str) -> None:
        """Publish until the broker acknowledges; the batch's offsets wait for it. One the
        topic refuses as too large (its own max.message.bytes may be below the contract's
        limit) goes again as the original's hash and length: stopping would only stop again
        on the same event after every restart."""
        failed_at = self.clock()
        payload = serialize_dead_letter(message, stage, reason, self.group_id, failed_at)
        delays = self.backoff.delays()
        while True:
            try:
                error = self._deliver(payload, message.key)
            except TooLarge as refusal:
                smallest = serialize_dead_letter(
                    message, stage, reason, self.group_id, failed_at, SMALLEST_DEAD_LETTER_BYTES
                )
                if len(smallest) >= len(payload):
                    raise
                log.warning("%s: %s; sending the original's hash and length instead", message.where, refusal)
                payload = smallest
                continue
            if error is None:
                break
            delay = next(delays)
            log.warning(
                "%s dead letter to %s not acknowledged (%s); retrying in %.1f s",
                message.where,
                self.dead_letter_topic,
                error,
                delay,
            )
            if self.stop.wait(delay):
                raise Stopped()
        self.summary.dead_lettered += 1
        log.warning("%s dead-lettered to %s (%s: %s)", message.where, self.dead_letter_topic, stage, reason)

    def _deliver(self, payload: bytes, key: bytes | None) -> str | None:
        """None once acknowledged, else what went wrong."""
        outcome: dict[str, object] = {}
        try:
            self.producer.produce(
                self.dead_letter_topic,
                value=payload,
                key=key,
                on_delivery=lambda error, _m: outcome.setdefault("error", error),
            )
        except BufferError as error:
            return str(error)
        except KafkaException as error:
            if too_large(error):  # over the client's message.max.bytes
                raise TooLarge(self._refusal(error, payload)) from None
            if undeliverable(error):  # no retry can send it
                raise FatalError(f"Kafka refuses the dead letter to {self.dead_letter_topic}: {error}") from None
            return str(error)
        deadline = time.monotonic() + self.delivery_timeout_s
        while "error" not in outcome and time.monotonic() < deadline:
            self.producer.poll(0.1)
        if "error" not in outcome:
            return f"no acknowledgement within {self.delivery_timeout_s:g} s"
        error = outcome["error"]
        if too_large(error):  # over the topic's or the broker's limit
            raise TooLarge(self._refusal(error, payload))
        if refused(error) or undeliverable(error):  # not authorised, no such topic
            raise FatalError(f"Kafka refused the dead letter to {self.dead_letter_topic}: {error}")
        return None if error is None else str(error)

    def _refusal(self, error, payload: bytes) -> str:
        return f"Kafka refused the dead letter to {self.dead_letter_topic} as too large ({len(payload)} bytes): {error}"

    def _commit(self, batch: Batch) -> None:
        offsets = [
            TopicPartition(topic, partition, position)
            for (topic, partition), position in sorted(batch.positions.items())
        ]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # e.g. the partitions moved to another member meanwhile: it re-reads the batch,
            # which rewrites the same documents
            log.warning("commit of %s failed: %s (those events will be indexed again)", partition_names(offsets), error)

    # --- retention ---------------------------------------------------------------------------
    def _maybe_drop_expired(self) -> None:
        if time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + self.retention_check_s
        try:
            self.summary.dropped_indices += index.drop_expired(
                self.es, self.prefix, self.clock().date(), self.retention_days
            )
        except (ApiError, TransportError) as error:  # retried at the next check
            log.warning("could not drop aged-out live indices: %s (retried in %.0f s)", error, self.retention_check_s)
