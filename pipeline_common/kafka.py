"""What a Kafka error means, the same for every stage (as `s3` does for S3): the errors
no retry can fix. Anything else librdkafka retries by itself, or the stage retries."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

# The broker refuses this client's credentials or permissions.
REFUSED = frozenset(
    {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    }
)
# A delivery the broker will never accept: the account may not write the topic, the topic
# does not exist (production does not create topics on first use), or the message is larger
# than the client or the broker takes (MSG_SIZE_TOO_LARGE is also what produce() raises
# for a message over the client's own message.max.bytes).
UNDELIVERABLE = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.POLICY_VIOLATION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._INVALID_ARG,
    }
)
# ... of which: the message is larger than the client or this topic takes. Unlike the rest,
# a smaller message may go through (a dead letter then keeps only the original's hash).
TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})


class Subscriber(Protocol):
    """A confluent_kafka.Consumer (or a test's fake) as `RunWatch.subscribe` uses it."""

    def subscribe(self, topics: list[str], *, on_assign: Callable, on_revoke: Callable, on_lost: Callable) -> None: ...


class BatchConsumer(Subscriber, Protocol):
    """What a stage consuming in batches (the live indexer, the archiver) calls on a
    confluent_kafka.Consumer (or a test's fake)."""

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]: ...

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> object: ...


@dataclass(frozen=True)
class RunLimits:
    """When a consuming stage's run ends by itself (`--max-messages`, `--idle-timeout`);
    by default it runs until it is stopped."""

    max_messages: int | None = None  # stop polling after this many messages
    idle_timeout_s: float | None = None  # stop once nothing arrived for this long

    def limit_reached(self, received: int) -> str | None:
        if self.max_messages is not None and received >= self.max_messages:
            return f"--max-messages {self.max_messages} reached"
        return None

    def idle_for(self, waited_s: float, noun: str) -> str | None:
        """Why to stop after `waited_s` seconds without a `noun` once partitions were assigned."""
        if self.idle_timeout_s is not None and waited_s >= self.idle_timeout_s:
            return f"no {noun} for {self.idle_timeout_s:g} s (--idle-timeout)"
        return None


@dataclass
class RunOutcome:
    """How a consuming stage's run ended: the part of every such stage's summary."""

    stopped_by: str = ""
    fatal: str | None = None

    def stop_for(self, reason: str | None) -> bool:
        """Note `reason` to stop, unless one is noted already; whether there is one."""
        if reason is not None:
            self.stopped_by = self.stopped_by or reason
        return reason is not None

    def stop_fatal(self, error: Exception) -> None:
        """An error no retry can fix ends the run."""
        self.fatal = str(error)
        self.stopped_by = "fatal error"
        log.error("stopping: %s", error)


class RunWatch:
    """When a consuming loop ends: shutdown asked for (`stop`), `limits.max_messages`
    reached, or nothing (no `noun`) for `limits.idle_timeout_s` once partitions were
    assigned; before the first assignment the topic was not read at all, so no idleness
    counts. The loop calls `assigned()` from its on_assign callback and `seen()` on each
    message."""

    def __init__(self, limits: RunLimits, stop: threading.Event, noun: str = "message") -> None:
        self.limits, self.stop, self.noun = limits, stop, noun
        self.assigned_once = False
        self.last_seen = time.monotonic()

    def assigned(self) -> None:
        self.assigned_once = True
        self.last_seen = time.monotonic()

    def subscribe(self, consumer: Subscriber, topics: list[str], on_revoke, on_lost) -> None:
        """Subscribe `consumer` to `topics`; each assignment is logged and counts as activity."""

        def on_assign(_consumer, partitions) -> None:
            self.assigned()
            log.info("assigned %s", partition_names(partitions))

        consumer.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    def seen(self) -> None:
        self.last_seen = time.monotonic()

    def why_stop(self, received: int) -> str | None:
        """Why the loop should end now, after `received` messages; None: it goes on."""
        if self.stop.is_set():
            return "shutdown requested"
        reason = self.limits.limit_reached(received)
        if reason is None and self.assigned_once:
            reason = self.limits.idle_for(time.monotonic() - self.last_seen, self.noun)
        return reason


def check_polled_error(error: KafkaError, fatal: type[Exception]) -> None:
    """What a consuming loop does with an error polled in place of a message: raise
    `fatal` when retrying cannot help (credentials or rights refused); else log it and go
    on (librdkafka reconnects and retries by itself). The end of a partition is no error."""
    if refused(error):
        raise fatal(f"Kafka: {error}")
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("Kafka: %s", error)


def partition_names(partitions) -> str:
    """`topic/partition[@offset]` of TopicPartitions, for log lines."""
    return (
        ", ".join(f"{tp.topic}/{tp.partition}" + (f"@{tp.offset}" if tp.offset >= 0 else "") for tp in partitions)
        or "nothing"
    )


def refused(error: object) -> bool:
    """A fatal error, or credentials or permissions refused."""
    return isinstance(error, KafkaError) and (error.fatal() or error.code() in REFUSED)


def undeliverable(error: object) -> bool:
    """A delivery report's error (or the KafkaException produce() raised) that retrying
    the same message cannot fix."""
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    return isinstance(error, KafkaError) and (error.fatal() or error.code() in UNDELIVERABLE)


def too_large(error: object) -> bool:
    """An undeliverable error saying the message was too large (client or broker)."""
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    return isinstance(error, KafkaError) and error.code() in TOO_LARGE


class TopicUnavailable(RuntimeError):
    """A topic a stage writes to does not exist and cannot be created: everything sent to
    it would fail, so the stage must not start."""


def ensure_topic(admin: AdminClient, topic: str, setting: str, timeout_s: float = 15.0, looks: int = 3) -> bool:
    """Create `topic` (an AdminClient's broker defaults for partitions and replication)
    unless it exists; True when created. Raises TopicUnavailable when it is missing and the
    broker refuses to create it (production creates no topic on first use, and a stage's
    account may not create topics): checked at start-up, before anything is consumed, so
    the first dead letter or event does not find out. `setting` names the variable that
    chose the topic, for the message. An unreachable broker is only logged: the stage's
    own retries wait for it. A topic (or a right to see it) created a moment ago may take a
    moment to show: it is looked for `looks` times, a second apart."""
    from confluent_kafka.admin import NewTopic

    for look in range(looks):
        if look:
            time.sleep(1.0)
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException as exception:
            log.warning(
                "cannot check that topic %s exists (%s); sending to it waits for the broker", topic, exception.args[0]
            )
            return False
        if topic in metadata.topics and metadata.topics[topic].error is None:
            return False
    future = admin.create_topics(
        [NewTopic(topic, num_partitions=-1, replication_factor=-1)], request_timeout=timeout_s
    )[topic]
    try:
        future.result(timeout=timeout_s + 5)
    except KafkaException as exception:
        error: KafkaError = exception.args[0]
        if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise TopicUnavailable(
            f"topic {topic} does not exist (or this account may not see it) and cannot be created: {error.str()} "
            f"(create it and grant this stage's account WRITE and DESCRIBE on it, or set {setting} "
            "to an existing topic)"
        ) from None
    log.info("created topic %s", topic)
    return True
