"""The aggregation CLI on the real S3: local, inline and Hadoop runners (local mode, and the
local YARN cluster) over the same metadata give the same lines, and those lines hold the
right counts."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from hadoop import cli
from hadoop.aggregation import run_aggregation
from hadoop.settings import AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import Aggregate
from pipeline_common.output_runs import SUCCESS_MARKER, newest_complete_run
from pipeline_common.s3 import delete_prefix, list_keys
from pipeline_common.settings import S3Settings

LABELS = ["person", "car", "dog", "bicycle"]
SOURCES = ["front-door", "parking"]
TIMES = ["2026-11-28T10:05:00Z", "2026-11-28T12:30:00+02:00", "2026-11-28T11:59:59-01:00"]


def metadata(number: int) -> dict:
    labels = [LABELS[(number + k) % 4] for k in range(number % 5)]  # 0..4 detections
    image_id = f"{number:032x}"
    record = {
        "schema_version": 1,
        "image_id": image_id,
        "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
        "source": SOURCES[number % 2],
        "captured_at": TIMES[number % 3],
        "processed_at": "2026-11-28T13:00:00Z",
        "model": {"name": "yolov4-tiny", "input_size": 416, "confidence_threshold": 0.5, "nms_threshold": 0.4},
        "width": 640,
        "height": 480,
        "detections": [{"label": label, "class_id": 0, "confidence": 0.8, "box": [0, 0, 5, 5]} for label in labels],
    }
    if number % 17 == 0:
        del record["captured_at"]  # bucketed by processed_at, 13:00
    return record


RECORDS = [metadata(n) for n in range(1, 61)]
BAD_OBJECTS = {
    "truncated.json": b'{"schema_version": 1, "image_id"',
    "future.json": json.dumps(dict(RECORDS[0], schema_version=9)).encode(),
}


def expected_counts() -> dict:
    """{(label, source, hour): (detections, images)}, counted the plain way."""
    table = defaultdict(lambda: [0, 0])
    for record in RECORDS:
        moment = (
            datetime.fromisoformat(record.get("captured_at", record["processed_at"]).replace("Z", "+00:00"))
            .astimezone(timezone.utc)
            .replace(minute=0, second=0)
        )
        labels = [d["label"] for d in record["detections"]]
        for label in set(labels):
            key = (label, record["source"], moment)
            table[key][0] += labels.count(label)
            table[key][1] += 1
    return {key: tuple(value) for key, value in table.items()}


@pytest.fixture(scope="module")
def dataset(pipeline_env):
    """A unique prefix holding the metadata objects; removed afterwards."""
    settings = S3Settings.from_env(pipeline_env)
    s3 = s3_client(settings)
    prefix = f"it-aggregation-{uuid.uuid4().hex[:10]}/"
    for record in RECORDS:
        s3.put_object(
            Bucket=settings.bucket,
            Key=f"{prefix}metadata/{record['image_id']}.json",
            Body=json.dumps(record, separators=(",", ":")).encode(),
        )
    for name, body in BAD_OBJECTS.items():
        s3.put_object(Bucket=settings.bucket, Key=f"{prefix}metadata/{name}", Body=body)
    yield prefix
    delete_prefix(s3, settings.bucket, prefix)


def run(dataset, run_id, *args):
    return cli.main(
        [
            "--source",
            "metadata",
            "--input-prefix",
            f"{dataset}metadata/",
            "--output-prefix",
            f"{dataset}out/",
            "--run-id",
            run_id,
            *args,
        ]
    )


def output_lines(s3, s3_settings, dataset, run_id) -> list[str]:
    keys = list(list_keys(s3, s3_settings.bucket, f"{dataset}out/{run_id}/"))
    assert f"{dataset}out/{run_id}/{SUCCESS_MARKER}" in keys
    lines = []
    for key in keys:
        if "/part-" in key:
            lines += s3.get_object(Bucket=s3_settings.bucket, Key=key)["Body"].read().decode().splitlines()
    return sorted(lines)


@pytest.fixture(scope="module")
def local_lines(dataset, pipeline_env):
    # several manifest files, so several map tasks
    assert run(dataset, "20261128T100000Z", "-r", "local", "--keys-per-split", "25") == 0
    settings = S3Settings.from_env(pipeline_env)
    return output_lines(s3_client(settings), settings, dataset, "20261128T100000Z")


def test_local_runner_publishes_the_right_counts(local_lines, s3, s3_settings, dataset):
    aggregates = [Aggregate.from_line(line) for line in local_lines]
    assert [a.to_line() for a in aggregates] == local_lines
    table = {(a.label, a.source, a.bucket_start): (a.detections, a.images) for a in aggregates}
    assert table == expected_counts()
    assert newest_complete_run(s3, s3_settings.bucket, f"{dataset}out/") == "20261128T100000Z"


@pytest.fixture(scope="module")
def inline_lines(dataset, pipeline_env):
    """The -r inline run's lines (a full recount); --strict makes it exit 3, for the two bad objects."""
    assert run(dataset, "20261128T100500Z", "-r", "inline", "--full", "--strict") == 3
    settings = S3Settings.from_env(pipeline_env)
    return output_lines(s3_client(settings), settings, dataset, "20261128T100500Z")


def test_inline_rerun_gives_the_same_lines_and_strict_reports_bad_records(local_lines, inline_lines):
    assert inline_lines == local_lines


def test_hadoop_runner_gives_the_same_lines(local_lines, s3, s3_settings, dataset, hadoop_home):
    assert run(dataset, "20261128T101000Z", "-r", "hadoop", "--full", "--hadoop-home", str(hadoop_home)) == 0
    assert output_lines(s3, s3_settings, dataset, "20261128T101000Z") == local_lines


def test_a_taken_run_id_is_refused(local_lines, dataset):
    assert run(dataset, "20261128T100000Z", "-r", "inline") == 2


def test_an_unfinished_newer_run_is_not_the_newest_complete_one(local_lines, s3, s3_settings, dataset):
    s3.put_object(Bucket=s3_settings.bucket, Key=f"{dataset}out/20261128T235959Z/part-00000", Body=b"")
    assert newest_complete_run(s3, s3_settings.bucket, f"{dataset}out/") >= "20261128T100000Z"
    assert newest_complete_run(s3, s3_settings.bucket, f"{dataset}out/") != "20261128T235959Z"


@pytest.mark.slow
@pytest.mark.cluster
def test_the_aggregation_on_the_local_yarn_cluster_counts_like_inline(
    inline_lines, s3, s3_settings, dataset, pipeline_env, hadoop_cluster
):
    run_id = "20261128T102000Z"
    settings = AggregationSettings.from_env(
        pipeline_env,
        runner="hadoop",
        hadoop_home=str(hadoop_cluster.home),
        run_id=run_id,
        source="metadata",
        input_prefix=f"{dataset}metadata/",
        output_prefix=f"{dataset}out/",
        full=True,
        keys_per_split=40,  # two manifests: two map tasks in two containers
    )
    result = run_aggregation(settings, s3)

    assert output_lines(s3, s3_settings, dataset, run_id) == inline_lines
    assert result.bad_records == 2
    # Both steps ran as YARN applications, and finished well.
    apps = hadoop_cluster.applications(f"object-counts {run_id}")
    assert [(app["state"], app["finalStatus"]) for app in apps] == [("FINISHED", "SUCCEEDED")] * 2
    # HDFS was the scratch space (the manifests, the first step's output), S3 the destination.
    file_systems = result.counters["File System Counters"]
    assert file_systems["HDFS: Number of bytes read"] > 0
    assert file_systems["HDFS: Number of bytes written"] > 0
    assert file_systems["S3A: Number of bytes written"] > 0
