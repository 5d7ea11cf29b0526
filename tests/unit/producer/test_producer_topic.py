"""ensure_topic: an existing topic is fine, refused credentials stop at once."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from confluent_kafka import KafkaError, KafkaException

from producer.kafka_io import ClientErrors, KafkaRefused, TopicError, ensure_topic


class FakeAdmin:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)  # per call: an exception, True (created) or None (no answer)
        self.calls = []

    def create_topics(self, topics, request_timeout):
        self.calls.append((topics[0].topic, topics[0].num_partitions))
        future, outcome = Future(), self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        elif outcome:
            future.set_result(None)
        return {topics[0].topic: future}

    def poll(self, timeout):
        return 0


def kafka_error(code) -> KafkaException:
    return KafkaException(KafkaError(code))


def test_created_with_the_partition_count():
    admin = FakeAdmin(True)
    assert ensure_topic(admin, "images", 3, 1) is True
    assert admin.calls == [("images", 3)]


def test_an_existing_topic_is_fine():
    assert ensure_topic(FakeAdmin(kafka_error(KafkaError.TOPIC_ALREADY_EXISTS)), "images", 3, 1) is False


def test_an_unreachable_broker_is_retried():
    admin = FakeAdmin(kafka_error(KafkaError._TRANSPORT), True)
    assert ensure_topic(admin, "images", 3, 1, attempts=2, backoff_s=0) is True
    assert len(admin.calls) == 2


def test_a_refusal_is_not_retried_and_says_what_to_do():
    admin = FakeAdmin(kafka_error(KafkaError.TOPIC_AUTHORIZATION_FAILED), True)
    with pytest.raises(TopicError, match="PRODUCER_CREATE_TOPIC=false"):
        ensure_topic(admin, "images", 3, 1)
    assert len(admin.calls) == 1


def test_refused_credentials_end_the_wait_at_once():
    errors = ClientErrors()
    errors(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error"))
    with pytest.raises(KafkaRefused, match="KAFKA_PASSWORD"):
        ensure_topic(FakeAdmin(None), "images", 3, 1, errors=errors, timeout_s=600)
