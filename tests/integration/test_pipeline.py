"""The whole pipeline on the real services, as `make demo` runs it: sample photos and a
short video -> producer -> Kafka -> consumer -> metadata in S3 -> mrjob aggregation ->
Elasticsearch -> API. Every name (bucket, topics, group, index) is fresh for this test."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer

from local_services.provision import create_stage_topics, kafka_names, run_names
from pipeline_common.contracts import ImageAnnouncement, MetadataRecord
from pipeline_common.environment import PROJECT_ROOT, child_environment
from tests.support.services import consumer_lag

pytestmark = pytest.mark.slow


def drop_live_indices(es, prefix: str) -> None:
    from es_live.index import live_index_names, template_name

    for name in live_index_names(es, prefix):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))


@pytest.fixture(scope="module")
def pipeline_names(pipeline_env, s3, es, es_settings, kafka_admin, grant_kafka):
    """Fresh names; each stage's own account gets on them the rights it has on the configured
    ones (Kafka ACLs granted here; the indices belong to the indexers' families)."""
    suffix = uuid.uuid4().hex[:8]
    names = run_names("test", suffix, es_settings.index, es_settings.live_index_prefix)
    # each stage's own account gets its rights on these names, and the topics `make up` makes
    # for the configured names exist (the producer creates its own)
    grant_kafka(**kafka_names(names))
    create_stage_topics(kafka_admin, names)
    s3.create_bucket(Bucket=names["S3_BUCKET"])
    yield names
    drop_live_indices(es, names["ES_LIVE_INDEX_PREFIX"])


@pytest.fixture(scope="module")
def run_demo(pipeline_env, pipeline_names, tmp_path_factory):
    """Runs `python -m scripts.demo --no-serve` with the test's names; returns a function that
    runs it again (the same input folders, as a user re-running the demo would)."""
    work = tmp_path_factory.mktemp("pipeline")
    env = child_environment(**pipeline_names, PRODUCER_FRAMES_DIR=str(work / "frames"))

    def run() -> subprocess.CompletedProcess:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "scripts.demo",
                "--no-services",
                "--no-serve",
                "--variants",
                "1",
                "--idle-timeout",
                "6",
                "--new-pics",
                str(work / "new_pics"),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    run()
    return run


def announced(kafka_settings, topic: str) -> list[ImageAnnouncement]:
    consumer = Consumer(
        {
            **kafka_settings.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        messages, idle = [], 0
        while idle < 5:
            message = consumer.poll(1.0)
            if message is None:
                idle += 1
                continue
            assert message.error() is None, message.error()
            messages.append(ImageAnnouncement.from_json_bytes(message.value()))
            idle = 0
        return messages
    finally:
        consumer.close()


def metadata_records(s3, bucket: str) -> dict[str, MetadataRecord]:
    records = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="metadata/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            record = MetadataRecord.from_json_bytes(body)
            records[record.image_id] = record
    return records


def api_label_totals(es, index: str, live_prefix: str) -> dict[str, int]:
    """Batch before the newest run's cutoff, live after it: together, every image."""
    from simple_frontend.app import create_app

    client = create_app({"ES_CLIENT": es, "ES_INDEX": index, "ES_LIVE_INDEX_PREFIX": live_prefix}).test_client()
    answer = client.get("/api/label_counts", query_string={"from": "now-30d", "to": "now"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    return dict(zip(body["labels"], body["counts"], strict=True))


def group_lag(kafka_settings, topic: str, group: str) -> int:
    return consumer_lag(kafka_settings, group, topic)


def test_every_announced_image_gets_exactly_one_metadata_record(run_demo, pipeline_names, kafka_settings, s3):
    messages = announced(kafka_settings, pipeline_names["KAFKA_IMAGES_TOPIC"])
    ids = [m.image_id for m in messages]
    # 7 photos for each of 2 cameras, plus frames sampled from the gate video
    assert len(ids) >= 14 + 3
    assert len(ids) == len(set(ids)), "an image was announced twice"
    assert {m.source for m in messages} == {"camera-north", "camera-south", "camera-gate"}

    records = metadata_records(s3, pipeline_names["S3_BUCKET"])
    assert set(records) == set(ids)
    labels = Counter(d.label for r in records.values() for d in r.detections)
    # the darknet sample photos hold dogs, people and horses: a detector that runs finds them
    assert labels["dog"] > 0 and labels["person"] > 0 and labels["horse"] > 0
    assert group_lag(kafka_settings, pipeline_names["KAFKA_IMAGES_TOPIC"], pipeline_names["KAFKA_CONSUMER_GROUP"]) == 0


def test_api_counts_equal_the_detections_in_the_metadata(run_demo, pipeline_names, s3, es):
    records = metadata_records(s3, pipeline_names["S3_BUCKET"])
    expected = Counter(d.label for r in records.values() for d in r.detections)
    assert api_label_totals(es, pipeline_names["ES_INDEX"], pipeline_names["ES_LIVE_INDEX_PREFIX"]) == dict(expected)


def test_rerunning_the_whole_pipeline_changes_no_count(run_demo, pipeline_names, kafka_settings, s3, es):
    before_messages = len(announced(kafka_settings, pipeline_names["KAFKA_IMAGES_TOPIC"]))
    before_totals = api_label_totals(es, pipeline_names["ES_INDEX"], pipeline_names["ES_LIVE_INDEX_PREFIX"])
    before_docs = es.count(index=pipeline_names["ES_INDEX"])["count"]

    run_demo()

    assert len(announced(kafka_settings, pipeline_names["KAFKA_IMAGES_TOPIC"])) == before_messages
    es.indices.refresh(index=pipeline_names["ES_INDEX"])
    assert es.count(index=pipeline_names["ES_INDEX"])["count"] == before_docs
    assert api_label_totals(es, pipeline_names["ES_INDEX"], pipeline_names["ES_LIVE_INDEX_PREFIX"]) == before_totals
    runs = s3.list_objects_v2(Bucket=pipeline_names["S3_BUCKET"], Prefix="mapreduce-output/", Delimiter="/")[
        "CommonPrefixes"
    ]
    assert len(runs) == 2  # a second, complete run was indexed over the first
