"""Kafka adapters: the idempotent producer and the images topic."""

from __future__ import annotations

import concurrent.futures
import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline_common.settings import KafkaSettings

log = logging.getLogger(__name__)
LIBRDKAFKA_LOG = logging.getLogger("producer.librdkafka")


class TopicError(Exception):
    """The images topic could not be made sure of; the message says why."""


class KafkaRefused(TopicError):
    """The broker refused our credentials: a configuration error, not worth retrying."""


class ClientErrors:
    """librdkafka's `error_cb`: client-wide errors (broker down, SASL refused) that no
    single request reports. Each new kind is logged once; the last one is kept."""

    def __init__(self):
        self.last: KafkaError | None = None
        self._seen: set[int] = set()

    def __call__(self, error: KafkaError) -> None:
        if error.code() not in self._seen:
            self._seen.add(error.code())
            LIBRDKAFKA_LOG.warning("Kafka: %s", error.str())
        self.last = error

    @property
    def refused(self) -> bool:
        return self.last is not None and self.last.code() == KafkaError._AUTHENTICATION


def make_producer(kafka: KafkaSettings, delivery_timeout_s: float) -> Producer:
    config = kafka.client_config()
    config.update(
        {
            # the broker de-duplicates librdkafka's own retries; acks=all waits for every replica
            "enable.idempotence": True,
            "acks": "all",
            # how long a message may wait for a reachable broker before it is reported failed
            "delivery.timeout.ms": int(delivery_timeout_s * 1000),
            "linger.ms": 10,
            # the Java clients' partitioner: the same key lands on the same partition from any client
            "partitioner": "murmur2_random",
            "client.id": "image-producer",
            "logger": LIBRDKAFKA_LOG,
            "error_cb": ClientErrors(),
        }
    )
    return Producer(config)


def make_admin(kafka: KafkaSettings) -> tuple[AdminClient, ClientErrors]:
    errors = ClientErrors()
    config = kafka.client_config()
    config.update({"logger": LIBRDKAFKA_LOG, "error_cb": errors})
    return AdminClient(config), errors


def ensure_topic(
    admin: AdminClient,
    topic: str,
    partitions: int,
    replication: int,
    errors: ClientErrors | None = None,
    attempts: int = 4,
    timeout_s: float = 15.0,
    backoff_s: float = 1.0,
) -> bool:
    """Create `topic` unless it exists; True when this call created it.

    A broker that cannot be reached is retried with backoff; a refusal (bad
    credentials, no right to create topics, bad replication factor) is not."""
    delay = backoff_s
    for attempt in range(1, attempts + 1):
        future = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=replication)],
            request_timeout=timeout_s,
        )[topic]
        try:
            _wait(admin, future, errors, timeout_s + 5)
            log.info("created topic %s with %d partitions", topic, partitions)
            return True
        except KafkaException as exception:
            error: KafkaError = exception.args[0]
            if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                log.debug("topic %s already exists", topic)
                return False
            if not error.retriable() and error.code() not in _TRANSIENT:
                hint = ""
                if error.code() in _NOT_ALLOWED:
                    hint = (
                        " (if the topic exists and this account may not create topics, set PRODUCER_CREATE_TOPIC=false)"
                    )
                raise TopicError(f"cannot create topic {topic}: {error.str()}{hint}") from None
            log.warning("topic %s: broker not answering (%s), attempt %d of %d", topic, error.str(), attempt, attempts)
        except concurrent.futures.TimeoutError:
            log.warning("topic %s: no answer within %g s, attempt %d of %d", topic, timeout_s + 5, attempt, attempts)
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    raise TopicError(f"cannot create topic {topic}: no broker answered after {attempts} attempts")


def _wait(admin: AdminClient, future, errors: ClientErrors | None, timeout_s: float) -> None:
    """future.result(), but give up at once when the broker refuses our credentials
    (librdkafka would otherwise keep retrying until the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            future.result(timeout=0.25)
            return
        except concurrent.futures.TimeoutError:
            admin.poll(0)  # serves error_cb
            if errors is not None and errors.refused:
                raise KafkaRefused(
                    f"Kafka refused the credentials: {errors.last.str()} "
                    "(check PRODUCER_KAFKA_USERNAME/PRODUCER_KAFKA_PASSWORD)"
                ) from None
            if time.monotonic() >= deadline:
                raise


_TRANSIENT = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}
_NOT_ALLOWED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
