"""The live indexer against the real Kafka and Elasticsearch: events become documents
the API counts, redelivery changes no count, bad events are dead-lettered, old days go."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from es_live.app import run_live_indexer
from es_live.loop import RunLimits
from es_live.settings import LiveIndexerSettings
from pipeline_common.contracts import DetectionEvent
from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.kafka import TopicUnavailable
from pipeline_common.timestamps import utc_now
from tests.support.services import consumer_lag as group_lag

from .conftest import live_documents

SCRIPT = PROJECT_ROOT / "elasticsearch" / "index_live_detections.py"


def events(count: int, minutes_ago: int = 30, source: str = "cam-live", **counts) -> list[DetectionEvent]:
    captured = utc_now() - timedelta(minutes=minutes_ago)
    return [
        DetectionEvent(
            uuid.uuid4().hex,
            source,
            captured,
            captured + timedelta(seconds=1),
            "yolov3-tiny",
            counts or {"person": 2, "dog": 1},
        )
        for _ in range(count)
    ]


def totals(client) -> dict[str, int]:
    answer = client.get("/api/totals?from=now-24h&to=now")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {row["label"]: row["count"] for row in answer.get_json()["totals"]}


def test_an_event_becomes_visible_through_the_api_while_the_indexer_runs(
    live_env, publish, api, names, es, kafka_settings
):
    stop = threading.Event()
    summary = {}
    worker = threading.Thread(
        target=lambda: summary.update(
            result=run_live_indexer(LiveIndexerSettings.from_env(live_env), RunLimits(), stop)
        )
    )
    worker.start()
    try:
        publish(events(3, person=1, car=2))
        client, deadline = api(), time.monotonic() + 90
        while totals(client) != {"car": 6, "person": 3} and time.monotonic() < deadline:
            time.sleep(0.5)  # poll as the dashboard does; no timing is asserted
        assert totals(client) == {"car": 6, "person": 3}
        body = client.get("/api/totals?from=now-24h&to=now").get_json()
        assert body["live"] is True and body["final_until"] is None  # no batch run yet
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert summary["result"].fatal is None and summary["result"].indexed == 3
    assert group_lag(kafka_settings, names.group, names.topic) == 0  # committed after the acknowledgement


def test_a_redelivered_event_changes_no_count(live_env, publish, run_live, api, names, es, grant_kafka):
    batch = events(5) + events(2, minutes_ago=90, source="cam-other", bicycle=1)
    publish(batch)
    first = run_live()
    assert first.indexed == 7 and first.created == 7
    before = totals(api())
    assert before == {"person": 10, "dog": 5, "bicycle": 2}
    documents = live_documents(es, names.prefix)

    publish(batch[:3])  # the consumer sent these again (it crashed before committing)
    again = run_live()
    # a new group reads the whole topic once more, as after an offset reset
    grant_kafka(detections_topic=names.topic, live_group=f"{names.group}-reread")
    reread = run_live(LIVE_CONSUMER_GROUP=f"{names.group}-reread")

    assert (again.indexed, again.created) == (3, 0)
    assert (reread.received, reread.created) == (10, 0)  # every event read again, nothing new
    assert live_documents(es, names.prefix) == documents == 7
    assert totals(api()) == before


def test_malformed_events_are_dead_lettered_with_where_they_came_from(
    live_env, publish, run_live, names, kafka_settings
):
    publish([b'{"schema_version": 1, "image_id": "nope"}', *events(1)])
    summary = run_live()
    assert (summary.indexed, summary.dead_lettered) == (1, 1)
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer(
        {
            **kafka_settings.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        reader.assign([TopicPartition(names.dead_letter_topic, 0, 0)])
        message, deadline = None, time.monotonic() + 20
        while message is None and time.monotonic() < deadline:
            message = reader.poll(0.5)
    finally:
        reader.close()
    letter = json.loads(message.value())
    assert letter["stage"] == "parse" and "image_id" in letter["reason"]
    assert letter["original"]["topic"] == names.topic and letter["original"]["offset"] >= 0
    assert letter["original"]["value_text"] == '{"schema_version": 1, "image_id": "nope"}'
    assert letter["consumer_group"] == names.group
    assert group_lag(kafka_settings, names.group, names.topic) == 0


def first_message(kafka_settings, topic: str, timeout_s: float = 20.0):
    reader = Consumer(
        {
            **kafka_settings.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        message, deadline = None, time.monotonic() + timeout_s
        while message is None and time.monotonic() < deadline:
            message = reader.poll(0.5)
        return message
    finally:
        reader.close()


def test_a_dead_letter_over_the_topics_own_limit_goes_as_the_originals_hash(
    live_env, publish, run_live, names, kafka_settings, kafka_admin
):
    # the dead-letter topic takes 16 KiB a message: a 100 KB bad event's dead letter (kept
    # whole, 133 KB in base64) was refused as too large and stopped the indexer on every restart
    limit = ConfigEntry("max.message.bytes", str(16 * 1024), incremental_operation=AlterConfigOpType.SET)
    topic = ConfigResource(ResourceType.TOPIC, names.dead_letter_topic, incremental_configs=[limit])
    for future in kafka_admin.incremental_alter_configs([topic]).values():
        future.result(timeout=30)
    bad = bytes(n % 251 for n in range(100_000))  # not UTF-8, not JSON
    publish([bad, *events(1)])

    summary = run_live()

    assert summary.fatal is None and (summary.indexed, summary.dead_lettered) == (1, 1)
    message = first_message(kafka_settings, names.dead_letter_topic)
    assert message is not None and message.error() is None
    letter = json.loads(message.value())
    assert letter["stage"] == "parse" and letter["original"]["topic"] == names.topic
    assert letter["original"]["value_sha256"] == hashlib.sha256(bad).hexdigest()
    assert letter["original"]["value_length"] == len(bad) and letter["original"]["value_base64"] is None
    assert group_lag(kafka_settings, names.group, names.topic) == 0


def test_a_missing_dead_letter_topic_stops_the_indexer_at_start_up(
    live_env, publish, run_live, grant_kafka, kafka_settings, names
):
    missing = f"it-detections-dead-missing-{uuid.uuid4().hex[:10]}"
    grant_kafka(detections_dead_letter_topic=missing)  # its account may see it: it just does not exist
    publish([b"not an event", *events(1)])

    with pytest.raises(TopicUnavailable, match=f"{missing}.*KAFKA_DETECTIONS_DEAD_LETTER_TOPIC"):
        run_live(KAFKA_DETECTIONS_DEAD_LETTER_TOPIC=missing)
    assert group_lag(kafka_settings, names.group, names.topic) == 2  # nothing read, nothing committed


def test_old_days_are_dropped_and_older_events_left_to_the_batch_view(live_env, publish, run_live, names, es):
    stale = f"{names.prefix}2001.01.01"
    es.indices.create(index=stale)
    publish(events(1, minutes_ago=60 * 24 * 10) + events(1))  # ten days old, and fresh
    summary = run_live(LIVE_RETENTION_DAYS="7")
    assert summary.dropped_indices == [stale]
    assert not es.indices.exists(index=stale)
    assert (summary.indexed, summary.expired) == (1, 1)


def test_the_command_line(live_env, publish, names, es):
    assert subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True).returncode == 0
    publish(events(2))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--idle-timeout", "3"], env=live_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 event(s) read, 2 document(s) written (2 new)" in done.stderr
    assert live_documents(es, names.prefix) == 2

    bad = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={**live_env, "LIVE_RETENTION_DAYS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "LIVE_RETENTION_DAYS" in bad.stderr

    refused = subprocess.run(
        [sys.executable, str(SCRIPT), "--idle-timeout", "3"],
        env={**live_env, "LIVE_ES_PASSWORD": "not-the-password"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 3, refused.stderr[-2000:]
