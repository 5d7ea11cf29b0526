"""Batch and live merged, on the real services: the same images reach the live indices
(detection events -> live indexer) and the batch index (metadata -> aggregation ->
indexer). Before the batch run every bucket is live; once the batch catches up the same
buckets are final and hold the same counts; what comes after the run stays live."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from pipeline_common.contracts import (
    Detection,
    Interval,
    MetadataRecord,
    ModelInfo,
    bucket_start,
    detection_event_from_record,
)
from pipeline_common.environment import PROJECT_ROOT, child_environment
from pipeline_common.output_runs import new_run_id
from pipeline_common.s3 import list_keys
from pipeline_common.timestamps import to_iso, utc_now

pytestmark = pytest.mark.slow

LABELS = ["person", "car", "dog", "bicycle"]
SOURCES = ["front-door", "parking"]


def records(prefix: str, count: int, hours_ago: range) -> list[MetadataRecord]:
    """Images captured over the given hours before now, 0 to 4 detections each."""
    now = utc_now()
    made = []
    for n in range(count):
        captured = now - timedelta(hours=hours_ago[n % len(hours_ago)], minutes=7 * n % 60)
        image_id = uuid.uuid4().hex
        made.append(
            MetadataRecord(
                image_id=image_id,
                image_path=f"s3://image-pipeline/{prefix}images/{image_id}.jpg",
                source=SOURCES[n % 2],
                captured_at=captured,
                processed_at=captured + timedelta(seconds=2),
                model=ModelInfo("yolov3-tiny", 416, 0.25, 0.45),
                width=640,
                height=480,
                detections=tuple(Detection(LABELS[(n + k) % 4], 0, 0.8, (0, 0, 5, 5)) for k in range(n % 5)),
            )
        )
    return made


@pytest.fixture
def prefix(s3, s3_settings):
    """A folder of its own in the shared bucket, for this test's metadata and runs."""
    name = f"it-lambda-{uuid.uuid4().hex[:10]}/"
    yield name
    keys = list(list_keys(s3, s3_settings.bucket, name))
    for start in range(0, len(keys), 1000):
        s3.delete_objects(
            Bucket=s3_settings.bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]}
        )


def as_the_consumer_would(made, s3, bucket, prefix, publish) -> None:
    """The consumer's two outputs for each image: metadata in S3, an event on the topic."""
    for record in made:
        s3.put_object(Bucket=bucket, Key=f"{prefix}metadata/{record.image_id}.json", Body=record.to_json_bytes())
    publish([detection_event_from_record(record) for record in made])


def run_batch(live_env, prefix: str, index: str) -> str:
    """The aggregation and then the indexer, as the scheduler runs them; the run id."""
    run_id = new_run_id(utc_now())
    env = child_environment(**live_env)
    for command in (
        [
            "hadoop/run_aggregation.py",
            "-r",
            "inline",
            "--source",
            "metadata",
            "--input-prefix",
            f"{prefix}metadata/",
            "--output-prefix",
            f"{prefix}out/",
            "--run-id",
            run_id,
        ],
        ["elasticsearch/index_hadoop_output.py", "--index", index, "--output-prefix", f"{prefix}out/"],
    ):
        done = subprocess.run(
            [sys.executable, *command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return run_id


def timeline(client, since):
    answer = client.get(f"/api/timeline?from={to_iso(since)}&to=now&interval=hour&label=" + "&label=".join(LABELS))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json(), answer.headers


def values(series) -> dict:
    return {label: [(point["t"], point["y"]) for point in points] for label, points in series.items()}


def expected_hours(made) -> dict:
    """{label: {hour iso: detections}} counted the plain way."""
    table: dict = defaultdict(Counter)
    for record in made:
        hour = to_iso(bucket_start(record.captured_at, Interval.HOUR))
        for detection in record.detections:
            table[detection.label][hour] += 1
    return table


def live_table(es, prefix: str) -> dict:
    """{(label, source, hour iso): (detections, images)} summed over the live documents."""
    response = es.search(
        index=f"{prefix}*",
        size=0,
        aggs={
            "n": {
                "nested": {"path": "counts"},
                "aggs": {
                    "label": {
                        "terms": {"field": "counts.label", "size": 100},
                        "aggs": {
                            "source": {
                                "terms": {"field": "counts.source", "size": 100},
                                "aggs": {
                                    "hour": {
                                        "date_histogram": {
                                            "field": "counts.captured_at",
                                            "calendar_interval": "1h",
                                            "format": "strict_date_time",
                                        },
                                        "aggs": {
                                            "d": {"sum": {"field": "counts.detections"}},
                                            "i": {"sum": {"field": "counts.images"}},
                                        },
                                    }
                                },
                            }
                        },
                    }
                },
            }
        },
    )
    table = {}
    for label in response["aggregations"]["n"]["label"]["buckets"]:
        for source in label["source"]["buckets"]:
            for hour in source["hour"]["buckets"]:
                if hour["doc_count"]:
                    key = (label["key"], source["key"], hour["key_as_string"])
                    table[key] = (int(hour["d"]["value"]), int(hour["i"]["value"]))
    return table


def batch_table(es, index: str) -> dict:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, query={"term": {"interval": "hour"}})["hits"]["hits"]
    return {
        (h["_source"]["label"], h["_source"]["source"], h["_source"]["bucket_start"]): (
            h["_source"]["detections"],
            h["_source"]["images"],
        )
        for h in hits
    }


def test_once_the_batch_catches_up_batch_and_live_agree(
    live_env, names, prefix, s3, s3_settings, es, publish, run_live, api
):
    made = records(prefix, 40, range(2, 8))  # captured 2 to 8 hours ago
    as_the_consumer_would(made, s3, s3_settings.bucket, prefix, publish)
    assert run_live().indexed == 40
    since = bucket_start(utc_now() - timedelta(hours=9), Interval.HOUR)

    # before any batch run: every bucket is live, and counts every image
    live_series, headers = timeline(api(), since)
    assert headers["X-Final-Until"] == "none"
    assert {point["state"] for points in live_series.values() for point in points} == {"live"}
    for label, hours in expected_hours(made).items():
        assert {t: y for t, y in values(live_series)[label] if y} == dict(hours), label

    run_id = run_batch(live_env, prefix, names.batch_index)

    # the batch index and the live indices hold the same counts for the same hours
    assert batch_table(es, names.batch_index) == live_table(es, names.prefix)
    # ... so the API's answers do not change, but the run's hours are now final
    final_series, headers = timeline(api(), since)
    assert headers["X-Batch-Run"] == run_id
    assert values(final_series) == values(live_series)
    cutoff = headers["X-Final-Until"]
    states = {(point["t"], point["state"]) for points in final_series.values() for point in points}
    assert {state for t, state in states if t < cutoff} == {"final"}
    assert {state for t, state in states if t >= cutoff} == {"live"}
    assert any(t < cutoff for t, _ in states) and any(t >= cutoff for t, _ in states)

    # an image after the run is live, and added to what the batch counted
    later = [
        dataclasses.replace(
            records(prefix, 1, range(0, 1))[0],
            captured_at=utc_now(),
            detections=(Detection("dog", 0, 0.9, (0, 0, 5, 5)),),
        )
    ]
    as_the_consumer_would(later, s3, s3_settings.bucket, prefix, publish)
    assert run_live().indexed == 1
    answer = api().get(f"/api/totals?from={to_iso(since)}&to=now")
    body = answer.get_json()
    expected = Counter(d.label for r in made + later for d in r.detections)
    assert {row["label"]: row["count"] for row in body["totals"]} == dict(expected)
    assert body["batch_run"] == run_id and body["live"] is True
    # the original design's two count endpoints (the third is the timeline) add both parts too
    specific = api().get(f"/api/count_specific?label=dog&from={to_iso(since)}&to=now")
    assert specific.get_json() == {"label": "dog", "count_in_range": expected["dog"]}
    assert specific.headers["X-Live"] == "true" and specific.headers["X-Batch-Run"] == run_id
    legacy = api().get(f"/api/label_counts?from={to_iso(since)}&to=now").get_json()
    assert dict(zip(legacy["labels"], legacy["counts"], strict=True)) == dict(expected)
    last_dog = timeline(api(), since)[0]["dog"][-1]
    assert last_dog["state"] == "live" and last_dog["y"] >= 1
