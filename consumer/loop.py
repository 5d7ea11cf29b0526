"""The poll loop: keeps a small window of messages downloading and decoding in worker
threads while the detector works on the oldest one, and stores each partition's
offset only when every earlier message of that partition is durably handled
(metadata written and its detection event acknowledged, or dead letter acknowledged).
Auto-commit then commits what was stored; the loop also commits before partitions are
revoked and at shutdown.

The loop keeps calling poll() even when it has no room for more messages (the window is
full of images whose download is stuck behind an S3 outage, say): once it has had no room
for `pause_after_s`, it pauses its partitions (librdkafka then fetches nothing and drops
what it had prefetched, to fetch it again on resume) and polls only to stay in the group,
so a stall longer than max.poll.interval.ms does not get it evicted and its work redone.
A paused partition that is revoked or lost is resumed as it goes: librdkafka would keep it
paused through the rebalance, and it would come back to this consumer stuck.
Memory stays bounded: at most `prefetch` messages downloading and `2 * prefetch` being
written or dead-lettered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Callable, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from pipeline_common.contracts import MetadataRecord
from pipeline_common.contracts.dead_letter import OriginalMessage
from pipeline_common.kafka import RunLimits, RunOutcome, RunWatch, check_polled_error, partition_names
from pipeline_common.retry import Backoff

from . import metrics
from .errors import Abandoned, FatalError, Stage
from .offsets import OffsetTracker
from .processing import Detected, Failed, Prepared
from .retry import call_with_retry

log = logging.getLogger(__name__)


class MessageSource(Protocol):
    """What the loop needs of a confluent_kafka.Consumer (or a test's fake)."""

    def subscribe(self, topics: list[str], *, on_assign: Callable, on_revoke: Callable, on_lost: Callable) -> None: ...

    def poll(self, timeout: float) -> Message | None: ...

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None: ...

    def commit(self, *, asynchronous: bool) -> object: ...

    def assignment(self) -> list[TopicPartition]: ...

    def pause(self, partitions: list[TopicPartition]) -> None: ...

    def resume(self, partitions: list[TopicPartition]) -> None: ...


class Steps(Protocol):
    """One message's work in three steps: processing.Processor."""

    def prepare(self, ref: OriginalMessage) -> Prepared | Failed: ...

    def detect(self, prepared: Prepared) -> Detected | Failed: ...

    def write(self, detected: Detected) -> str: ...


class DeadLetters(Protocol):
    """dead_letter.DeadLetterPublisher: returns once the dead letter is durable."""

    def publish(self, ref: OriginalMessage, stage: Stage, reason: str) -> None: ...


class Events(Protocol):
    """events.EventPublisher: publishes a record's detection event, once it is durable."""

    def publish(self, record: MetadataRecord) -> None: ...


class Progress(Protocol):
    """Anything with update(n), e.g. tqdm."""

    def update(self, n: float = 1) -> object: ...


@dataclass
class Summary(RunOutcome):
    polled: int = 0
    processed: int = 0
    dead_lettered: int = 0
    handed_back: int = 0
    pauses: int = 0  # times the partitions were paused while the window stayed full


@dataclass
class _Job:
    ref: OriginalMessage
    future: Future
    what: str = ""  # for the log line once it is done
    dead_letter: bool = False
    dropped: bool = False  # its partition was revoked: the next owner re-reads it


@dataclass
class ConsumerLoop:
    consumer: MessageSource
    processor: Steps
    dead_letters: DeadLetters
    pool: Executor
    stop: threading.Event
    events: Events  # the detection event, once the metadata is written
    prefetch: int = 4
    limits: RunLimits = RunLimits()
    progress: Progress | None = None
    poll_timeout_s: float = 0.5
    join_grace_s: float = 60.0  # extra wait for the first assignment under --idle-timeout
    backoff: Backoff = Backoff()  # for dead letters and events the broker did not acknowledge
    pause_after_s: float = 2.0  # no room for this long: pause the partitions, keep polling
    summary: Summary = field(default_factory=Summary)

    def __post_init__(self) -> None:
        self._tracker = OffsetTracker()
        self._window: deque[_Job] = deque()  # download + decode running, in poll order
        self._finishing: list[_Job] = []  # metadata write or dead letter running
        self._watch = RunWatch(self.limits, self.stop, "message")
        self._full_since: float | None = None  # since when there has been no room
        self._paused: set[tuple[str, int]] = set()

    # --- rebalancing -------------------------------------------------------------------
    def subscribe(self, topics: list[str]) -> None:
        self._watch.subscribe(self.consumer, topics, self._on_revoke, self._on_lost)

    def _on_revoke(self, consumer: MessageSource, partitions) -> None:
        log.info("revoking %s: committing finished work first", partition_names(partitions))
        if self._finishing:
            wait([job.future for job in self._finishing], timeout=30)
        self._collect()
        self._store_offsets()
        self._commit()
        self._drop(partitions)

    def _on_lost(self, consumer: MessageSource, partitions) -> None:
        log.warning(
            "lost %s (session expired?): their unfinished messages will be redelivered", partition_names(partitions)
        )
        self._drop(partitions)

    def _drop(self, partitions) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        for job in self._window:
            if (job.ref.topic, job.ref.partition) in gone:
                job.dropped = True
                job.future.cancel()
        self._tracker.forget(gone)
        # librdkafka keeps a partition paused through a rebalance: handed back paused, it
        # would come back paused (after a broker restart, say) and never be resumed
        paused = [tp for tp in partitions if (tp.topic, tp.partition) in self._paused]
        if paused:
            try:
                self.consumer.resume(paused)
            except KafkaException as error:
                log.warning("could not resume %s before handing it back: %s", partition_names(paused), error)
        self._paused -= gone

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> Summary:
        try:
            while not self._finished():
                self._fill_window()
                self._advance()
                self._collect()
                self._store_offsets()
        except FatalError as error:
            self.summary.stop_fatal(error)
            self.stop.set()  # in-flight retries give up; their messages are handed back
            for job in self._window:
                job.future.cancel()
            wait([job.future for job in self._finishing])
            self._collect(raise_fatal=False)
            self._store_offsets()
        finally:
            self._commit()
        return self.summary

    def _finished(self) -> bool:
        if self._window or self._finishing:
            return False
        if self.summary.stop_for(self._watch.why_stop(self.summary.polled)):
            return True
        idle = self.limits.idle_timeout_s
        if idle is not None and not self._watch.assigned_once:
            # Before the first assignment the topic has not been read at all: joining can
            # take a whole session timeout when a crashed member still holds the group.
            if time.monotonic() - self._watch.last_seen >= idle + self.join_grace_s:
                self.summary.stopped_by = f"no partitions assigned within {idle + self.join_grace_s:g} s"
                log.warning(
                    "%s: is the topic there, and are there more consumers than partitions?", self.summary.stopped_by
                )
                return True
        return False

    def _limit_reached(self) -> bool:
        return self.limits.limit_reached(self.summary.polled) is not None

    def _has_room(self) -> bool:
        return (
            len(self._window) < self.prefetch
            and len(self._finishing) < 2 * self.prefetch
            and not self.stop.is_set()
            and not self._limit_reached()
        )

    def _fill_window(self) -> None:
        if not self._has_room():
            self._keep_polling()
            return
        self._full_since = None
        self._resume()
        while self._has_room():
            busy = self._window or self._finishing
            message = self.consumer.poll(0 if busy else self.poll_timeout_s)
            if message is None:
                return
            self._take(message)

    def _keep_polling(self) -> None:
        """No room for more messages: once that has lasted `pause_after_s`, pause every
        assigned partition and poll anyway, which keeps this member in its group."""
        now = time.monotonic()
        if self._full_since is None:
            self._full_since = now
            return
        if now - self._full_since < self.pause_after_s:
            return
        self._pause()
        message = self.consumer.poll(0)  # rebalances and errors; messages only if fetched before the pause
        if message is not None:
            self._take(message)  # never dropped: its offset would be skipped

    def _pause(self) -> None:
        assigned = [tp for tp in self.consumer.assignment() if (tp.topic, tp.partition) not in self._paused]
        if not assigned:
            return
        self.consumer.pause(assigned)
        if not self._paused:
            self.summary.pauses += 1
            log.info(
                "no room for more messages for %.0f s (%d downloading, %d being written): pausing %s, still polling",
                time.monotonic() - (self._full_since or 0),
                len(self._window),
                len(self._finishing),
                partition_names(assigned),
            )
        self._paused |= {(tp.topic, tp.partition) for tp in assigned}

    def _resume(self) -> None:
        if not self._paused:
            return
        partitions = [tp for tp in self.consumer.assignment() if (tp.topic, tp.partition) in self._paused]
        self._paused.clear()
        if partitions:
            self.consumer.resume(partitions)
            self._watch.seen()  # what was fetched before the pause is fetched again
            log.info("room again: resuming %s", partition_names(partitions))

    def _take(self, message: Message) -> None:
        if message.error():
            check_polled_error(message.error(), FatalError)
            return
        ref = OriginalMessage.from_kafka(message)
        self._tracker.started(ref.topic, ref.partition, ref.offset)
        self._watch.seen()
        self.summary.polled += 1
        self._window.append(_Job(ref, self.pool.submit(self.processor.prepare, ref)))

    def _advance(self) -> None:
        """Take the oldest message through detection once its download and decode are done."""
        if not self._window:
            if self._finishing:
                wait([job.future for job in self._finishing], timeout=self.poll_timeout_s, return_when=FIRST_COMPLETED)
            return
        head = self._window[0]
        if not head.dropped and not head.future.done():
            room = self._has_room()
            others = [job.future for job in self._finishing]
            wait([head.future, *others], timeout=0.02 if room else self.poll_timeout_s, return_when=FIRST_COMPLETED)
            if not head.future.done():
                return
        self._window.popleft()
        if head.dropped:
            return
        try:
            outcome = head.future.result()
        except Abandoned as error:
            self._hand_back(head.ref, error)
            return
        if isinstance(outcome, Prepared):
            outcome = self.processor.detect(outcome)
        if isinstance(outcome, Detected):
            metrics.DETECTION_SECONDS.observe(outcome.record.timings_ms.get("inference", 0.0) / 1000)
            labels = ", ".join(d.label for d in outcome.record.detections) or "nothing"
            what = f"image {outcome.record.image_id}: {labels} ({outcome.record.timings_ms['total']:.0f} ms)"
            self._finishing.append(_Job(head.ref, self.pool.submit(self._finish, outcome), what))
        elif isinstance(outcome, Failed):
            future = self.pool.submit(self._dead_letter, outcome)
            self._finishing.append(_Job(head.ref, future, dead_letter=True))
        else:  # pragma: no cover - a programming error, not bad input
            raise TypeError(f"unexpected outcome {outcome!r}")

    def _finish(self, detected: Detected) -> str:
        """Write the metadata record, then publish the detection event, each retried
        until it is durable: the offset is stored only after both."""
        written = self.processor.write(detected)
        call_with_retry(
            lambda: self.events.publish(detected.record),
            f"{detected.ref.where} detection event {detected.record.image_id}",
            self.backoff,
            self.stop,
        )
        return written

    def _dead_letter(self, failed: Failed) -> None:
        """Publish until the broker acknowledges: a Kafka hiccup must neither stop the
        consumer nor let the offset move past a message whose dead letter is not durable."""
        call_with_retry(
            lambda: self.dead_letters.publish(failed.ref, failed.stage, failed.reason),
            f"{failed.ref.where} dead letter",
            self.backoff,
            self.stop,
        )

    def _collect(self, raise_fatal: bool = True) -> None:
        for job in [job for job in self._finishing if job.future.done()]:
            self._finishing.remove(job)
            try:
                written = job.future.result()
            except Abandoned as error:
                self._hand_back(job.ref, error)
                continue
            except FatalError:
                if raise_fatal:
                    raise
                continue
            self._tracker.finished(job.ref.topic, job.ref.partition, job.ref.offset)
            self._watch.seen()  # --idle-timeout counts from the last work done
            if job.dead_letter:
                self.summary.dead_lettered += 1  # the publisher logged it
                metrics.IMAGES_DEAD_LETTERED.inc()
            else:
                self.summary.processed += 1
                metrics.IMAGES_PROCESSED.inc()
                log.info("%s %s -> %s", job.ref.where, job.what, written)
            if self.progress is not None:
                self.progress.update(1)

    def _hand_back(self, ref: OriginalMessage, error: Exception) -> None:
        self.summary.handed_back += 1
        log.warning("%s handed back unfinished (%s): it will be redelivered", ref.where, error)

    def _store_offsets(self) -> None:
        positions = self._tracker.committable()
        if not positions:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in positions.items()]
        try:
            self.consumer.store_offsets(offsets=offsets)
        except KafkaException as error:
            # the partition went away in a rebalance: the next owner redoes that work
            log.warning("could not store offsets %s: %s", partition_names(offsets), error)

    def _commit(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args and error.args[0].code() == KafkaError._NO_OFFSET:
                return  # nothing new to commit
            log.warning("commit failed: %s (stored offsets are committed on the next try)", error)
