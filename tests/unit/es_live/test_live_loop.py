"""The live indexer's loop with a Kafka fake and an in-memory Elasticsearch node: offsets
are committed only after the documents are acknowledged, redelivery never adds a
document, nothing malformed is dropped silently."""

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from confluent_kafka import KafkaError, KafkaException

from es_live.loop import LiveIndexer, RunLimits
from pipeline_common.retry import Backoff
from tests.support import fakes

from .conftest import NOW, FakeMessage, MemoryNode, event_bytes

PREFIX = "object-counts-live-"
DAY_INDEX = PREFIX + "2026.11.28"


def make(es, batches, producer=None, stop=None, **options):
    consumer = fakes.FakeBatchConsumer(batches)
    indexer = LiveIndexer(
        consumer=consumer,
        es=es,
        producer=producer or fakes.FakeProducer(),
        topic="detections",
        dead_letter_topic="detections-dead",
        group_id="live",
        prefix=PREFIX,
        retention_days=7,
        stop=stop or threading.Event(),
        backoff=Backoff(0.001, 0.002),
        limits=RunLimits(idle_timeout_s=0.05),
        clock=lambda: NOW,
        batch_wait_s=0.01,
        **options,
    )
    return indexer, consumer


def messages(*images, start=0):
    return [FakeMessage(event_bytes(image), start + n) for n, image in enumerate(images)]


def test_each_batch_is_indexed_then_committed(memory_es):
    indexer, consumer = make(memory_es, [messages(1, 2), messages(3, start=2)])
    summary = indexer.run()
    assert sorted(MemoryNode.indices[DAY_INDEX]) == [f"{n:032x}" for n in (1, 2, 3)]
    assert consumer.commits == [[("detections", 0, 2)], [("detections", 0, 3)]]
    assert (summary.indexed, summary.created, summary.dead_lettered) == (3, 3, 0)
    assert "idle" in summary.stopped_by


def test_a_redelivered_event_rewrites_the_same_document(memory_es):
    indexer, _ = make(memory_es, [messages(1, 2), messages(2, 1, start=2)])
    summary = indexer.run()
    assert len(MemoryNode.indices[DAY_INDEX]) == 2
    assert (summary.indexed, summary.created) == (4, 2)


def test_an_outage_is_retried_and_nothing_is_committed_before_the_acknowledgement(memory_es):
    MemoryNode.script = ["down", 503, {}]  # connection refused, then busy, then fine
    indexer, consumer = make(memory_es, [messages(1, 2)])
    commits_at_each_request = []
    MemoryNode.on_bulk = lambda: commits_at_each_request.append(len(consumer.commits))
    summary = indexer.run()
    assert commits_at_each_request == [0, 0, 0]
    assert consumer.commits == [[("detections", 0, 2)]]
    assert summary.indexed == 2 and summary.fatal is None


def test_shutdown_during_an_outage_leaves_the_batch_uncommitted(memory_es):
    MemoryNode.script = ["down"] * 1000
    stop = threading.Event()
    indexer, consumer = make(memory_es, [messages(1)], stop=stop)
    indexer.backoff = Backoff(0.05, 0.05)
    threading.Timer(0.2, stop.set).start()
    summary = indexer.run()
    assert consumer.commits == []
    assert "read again" in summary.stopped_by


def test_malformed_events_and_refused_documents_are_dead_lettered_before_the_commit(memory_es):
    MemoryNode.script = [{f"{2:032x}": 400}]
    producer = fakes.FakeProducer(fail_with="broker down", failures=1)  # the first dead letter fails: retried
    batch = [FakeMessage(b'{"schema_version": 1}', 0), *messages(1, 2, start=1)]
    indexer, consumer = make(memory_es, [batch], producer=producer)
    summary = indexer.run()
    letters = [json.loads(message.value()) for message in producer.delivered]
    stages = sorted((letter["stage"], letter["original"]["offset"]) for letter in letters)
    assert stages == [("index", 2), ("parse", 0)]
    assert all(message.topic() == "detections-dead" for message in producer.delivered)
    assert summary.dead_lettered == 2 and summary.indexed == 1
    assert consumer.commits == [[("detections", 0, 3)]]


def test_refused_credentials_stop_the_indexer_without_committing(memory_es):
    MemoryNode.script = [401]
    indexer, consumer = make(memory_es, [messages(1)])
    summary = indexer.run()
    assert summary.fatal and "refused" in summary.fatal
    assert consumer.commits == []


def test_aged_out_indices_are_dropped(memory_es):
    old = PREFIX + (NOW - timedelta(days=8)).strftime("%Y.%m.%d")
    MemoryNode.indices = {old: {}, DAY_INDEX: {}, "unrelated": {}}
    indexer, _ = make(memory_es, [])
    summary = indexer.run()
    assert summary.dropped_indices == [old]
    assert sorted(MemoryNode.indices) == [DAY_INDEX, "unrelated"]


@pytest.mark.parametrize("limit", [1, 3])
def test_max_messages(memory_es, limit):
    indexer, _ = make(memory_es, [messages(*range(1, limit + 1))])
    indexer.limits = RunLimits(max_messages=limit)
    summary = indexer.run()
    assert summary.received == limit and "max-messages" in summary.stopped_by


def test_events_already_fetched_are_indexed_without_waiting_to_fill_a_batch(memory_es):
    indexer, consumer = make(memory_es, [messages(1)])
    waits = []
    consume = consumer.consume
    consumer.consume = lambda num_messages=1, timeout=-1: (
        waits.append((num_messages, timeout)) or consume(num_messages, timeout)
    )
    indexer.run()
    # the waiting event is taken with a zero timeout; only an empty queue is waited on, for one event
    assert waits[0] == (indexer.batch_size, 0)
    assert all(timeout == 0 or number == 1 for number, timeout in waits)


@pytest.mark.parametrize(
    "producer",
    [
        fakes.FakeProducer(fail_with=KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)),
        fakes.FakeProducer(fail_with=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)),
        fakes.FakeProducer(fail_with=KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)),
        fakes.FakeProducer(produce_raises=KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))),
    ],
    ids=["unknown topic", "not authorised", "too large for the broker", "too large for the client"],
)
def test_a_dead_letter_kafka_refuses_for_good_stops_the_indexer_uncommitted(memory_es, producer):
    indexer, consumer = make(memory_es, [[FakeMessage(b"not json", 0), *messages(1, start=1)]], producer=producer)
    summary = indexer.run()
    assert summary.fatal and "detections-dead" in summary.fatal
    assert producer.attempts == 1  # not retried
    assert consumer.commits == []


def test_a_dead_letter_over_the_topics_limit_goes_as_the_originals_hash_and_the_batch_is_committed(memory_es):
    big = bytes(n % 251 for n in range(100_000))  # kept whole in base64: 133 KB
    producer = fakes.FakeProducer(topic_max_bytes=16 * 1024)
    indexer, consumer = make(memory_es, [[FakeMessage(big, 0), *messages(1, start=1)]], producer=producer)

    summary = indexer.run()

    assert summary.fatal is None and (summary.dead_lettered, summary.indexed) == (1, 1)
    assert len(producer.refused) == 1 and len(producer.refused[0]) > 16 * 1024
    [message] = producer.delivered
    letter = json.loads(message.value())
    assert message.topic() == "detections-dead" and letter["stage"] == "parse"
    assert letter["original"]["value_sha256"] == hashlib.sha256(big).hexdigest()
    assert (letter["original"]["value_length"], letter["original"]["offset"]) == (len(big), 0)
    assert consumer.commits == [[("detections", 0, 2)]]


def test_a_topic_that_refuses_even_the_hash_stops_the_indexer_uncommitted(memory_es):
    producer = fakes.FakeProducer(topic_max_bytes=100)
    indexer, consumer = make(memory_es, [[FakeMessage(b"x" * 50_000, 0), *messages(1, start=1)]], producer=producer)

    summary = indexer.run()

    assert summary.fatal and "too large" in summary.fatal and "detections-dead" in summary.fatal
    assert len(producer.refused) == 2 and producer.delivered == []
    assert consumer.commits == []
