"""Per-test names for the live path (detections topic, dead-letter topic, consumer
group, live index prefix), and ways to publish events, run the live indexer and ask
the API, all against the real Kafka and Elasticsearch."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from es_live.app import run_live_indexer
from es_live.index import live_index_names, template_name
from es_live.loop import RunLimits
from es_live.settings import LiveIndexerSettings
from pipeline_common.contracts import DetectionEvent, serialize_detection_event
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

PARTITIONS = 2


@dataclass(frozen=True)
class LiveNames:
    topic: str
    dead_letter_topic: str
    group: str
    prefix: str
    batch_index: str


def drop_live_indices(es, prefix: str) -> None:
    for name in live_index_names(es, prefix):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))


@pytest.fixture
def names(kafka_admin, es, es_settings, grant_kafka):
    """Fresh names, in the families of the configured indices (each stage's own account may
    use them) and with the live indexer's Kafka rights granted on the topics and group."""
    suffix = uuid.uuid4().hex[:10]
    made = LiveNames(
        f"it-detections-{suffix}",
        f"it-detections-dead-{suffix}",
        f"it-live-{suffix}",
        f"{es_settings.live_index_prefix}it-{suffix}-",
        f"{es_settings.index}-it-{suffix}",
    )
    futures = kafka_admin.create_topics([NewTopic(made.topic, PARTITIONS, 1), NewTopic(made.dead_letter_topic, 1, 1)])
    for future in futures.values():
        future.result(timeout=30)
    grant_kafka(detections_topic=made.topic, detections_dead_letter_topic=made.dead_letter_topic, live_group=made.group)
    yield made
    kafka_admin.delete_topics([made.topic, made.dead_letter_topic], operation_timeout=10)
    drop_live_indices(es, made.prefix)
    es.indices.delete(index=made.batch_index, ignore_unavailable=True)


@pytest.fixture
def live_env(pipeline_env, names) -> dict[str, str]:
    """The environment a user would run the live indexer with, pointed at this test's names."""
    return {
        **pipeline_env,
        "PIPELINE_DOTENV": "/nonexistent",  # everything needed is in this mapping
        "KAFKA_DETECTIONS_TOPIC": names.topic,
        "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC": names.dead_letter_topic,
        "LIVE_CONSUMER_GROUP": names.group,
        "ES_LIVE_INDEX_PREFIX": names.prefix,
        "ES_INDEX": names.batch_index,
        "LIVE_BATCH_WAIT_S": "0.2",
        "LIVE_RETRY_INITIAL_S": "0.2",
        "LIVE_RETRY_MAX_S": "1",
        "LIVE_SESSION_TIMEOUT_MS": "6000",
    }


@pytest.fixture
def publish(kafka_settings, names):
    """publish([DetectionEvent | bytes, ...]): to the test's topic, keyed by image id, acknowledged."""

    def send(events) -> None:
        producer = Producer({**kafka_settings.client_config(), "enable.idempotence": True})
        failures = []
        for event in events:
            value = event if isinstance(event, bytes) else serialize_detection_event(event)
            key = event.image_id.encode() if isinstance(event, DetectionEvent) else b"garbage"
            producer.produce(
                names.topic, value=value, key=key, on_delivery=lambda error, _m: error and failures.append(error)
            )
        assert producer.flush(30) == 0 and failures == []

    return send


@pytest.fixture
def run_live(live_env):
    """Run the live indexer in this process until no event came for `idle_timeout_s`."""

    def run(idle_timeout_s: float = 3.0, **overrides):
        settings = LiveIndexerSettings.from_env({**live_env, **overrides})
        return run_live_indexer(settings, RunLimits(idle_timeout_s=idle_timeout_s), threading.Event())

    return run


@pytest.fixture
def api(api_es_settings, names):
    """api(clock=None) -> a test client of the real app over the test's batch index and
    live indices (`clock`: the app's now, default the real one)."""

    def make(clock=None):
        # no caching of the batch runs: a test indexes one and asks again at once
        settings = FrontendSettings(
            elasticsearch=api_es_settings.replace(live_index_prefix=names.prefix), max_staleness_s=0
        )
        config = {"FRONTEND_SETTINGS": settings, "ES_INDEX": names.batch_index}
        if clock is not None:
            config["CLOCK"] = clock
        return create_app(config).test_client()

    return make


def live_documents(es, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}*", allow_no_indices=True, ignore_unavailable=True)
    return es.count(index=f"{prefix}*", allow_no_indices=True, ignore_unavailable=True)["count"]
