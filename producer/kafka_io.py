"""Kafka adapters: the idempotent producer and the images topic."""
from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline_common.settings import KafkaSettings

log = logging.getLogger(__name__)


class TopicError(Exception):
    """The images topic could not be made sure of; the message says why."""


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
            "logger": logging.getLogger("producer.librdkafka"),
        }
    )
    return Producer(config)


def make_admin(kafka: KafkaSettings) -> AdminClient:
    config = kafka.client_config()
    config["logger"] = logging.getLogger("producer.librdkafka")
    return AdminClient(config)


def ensure_topic(
    admin, topic: str, partitions: int, replication: int, attempts: int = 4, timeout_s: float = 15.0
) -> bool:
    """Create `topic` unless it exists; True when this call created it.

    A broker that cannot be reached is retried with backoff; a refusal (no right to
    create topics, bad replication factor) is not."""
    delay = 1.0
    for attempt in range(1, attempts + 1):
        future = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=replication)],
            request_timeout=timeout_s,
        )[topic]
        try:
            future.result(timeout=timeout_s + 5)
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
                    hint = " (if the topic exists and this account may not create topics, set PRODUCER_CREATE_TOPIC=false)"
                raise TopicError(f"cannot create topic {topic}: {error.str()}{hint}") from None
            log.warning("topic %s: broker not answering (%s), attempt %d of %d", topic, error.str(), attempt, attempts)
        except Exception as error:  # the future's own timeout
            log.warning("topic %s: no answer (%s), attempt %d of %d", topic, error, attempt, attempts)
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    raise TopicError(f"cannot create topic {topic}: no broker answered after {attempts} attempts")


_TRANSIENT = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}
_NOT_ALLOWED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
