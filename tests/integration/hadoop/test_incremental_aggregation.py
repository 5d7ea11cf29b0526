"""Incremental runs on the real S3: each run reads only what the run before it did not
count, and its totals equal a full recount of the same metadata, increment after
increment, on the inline, local and Hadoop runners."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from es_indexer.run import index_run, lock_index
from es_indexer.settings import IndexerSettings
from hadoop import cli
from pipeline_common.contracts import Aggregate
from pipeline_common.output_runs import SUCCESS_MARKER, run_ids
from pipeline_common.s3 import list_keys

LABELS = ["person", "car", "dog", "bicycle", "truck"]
SOURCES = ["front-door", "parking", "garden"]


def record(number: int, labels: list[str] | None = None) -> dict:
    if labels is None:
        labels = [LABELS[(number * 7 + k) % 5] for k in range(number % 4)]
    image_id = f"{number:032x}"
    minute = (number * 13) % (6 * 60)  # six hours of buckets, revisited by later increments
    return {
        "schema_version": 1,
        "image_id": image_id,
        "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
        "source": SOURCES[number % 3],
        "captured_at": f"2026-11-28T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "processed_at": "2026-11-28T15:00:00Z",
        "model": {"name": "yolov3-tiny", "input_size": 416, "confidence_threshold": 0.25, "nms_threshold": 0.45},
        "width": 640,
        "height": 480,
        "detections": [{"label": label, "class_id": 0, "confidence": 0.8, "box": [0, 0, 5, 5]} for label in labels],
    }


class Workspace:
    def __init__(self, s3, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.runs = 0

    def write(self, numbers, **changes) -> None:
        for number in numbers:
            body = dict(record(number), **changes)
            self.s3.put_object(
                Bucket=self.bucket, Key=f"{self.prefix}metadata/{number:032x}.json", Body=json.dumps(body).encode()
            )

    def run(self, out: str, *args) -> tuple[str, dict]:
        """A CLI run into `<prefix><out>/`; its run id and summary."""
        self.runs += 1
        run_id = f"20261128T16{self.runs:02d}00Z"
        summary = self.summary_dir / f"{run_id}.json"
        code = cli.main(
            [
                "-r",
                "inline",
                "--source",
                "metadata",
                "--input-prefix",
                f"{self.prefix}metadata/",
                "--output-prefix",
                f"{self.prefix}{out}/",
                "--run-id",
                run_id,
                "--summary-file",
                str(summary),
                *args,
            ]
        )
        assert code == 0
        return run_id, json.loads(summary.read_text())

    def lines(self, out: str, run_id: str) -> list[str]:
        keys = list(list_keys(self.s3, self.bucket, f"{self.prefix}{out}/{run_id}/"))
        assert f"{self.prefix}{out}/{run_id}/{SUCCESS_MARKER}" in keys
        found = []
        for key in keys:
            if key.rsplit("/", 1)[-1].startswith("part-"):
                found += self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode().splitlines()
        return sorted(found)

    def full_recount(self) -> list[str]:
        run_id, summary = self.run("full", "--full")
        assert summary["mode"] == "full"
        return self.lines("full", run_id)


@pytest.fixture(scope="module")
def workspace(s3, s3_settings, tmp_path_factory):
    space = Workspace(s3, s3_settings.bucket, f"it-incremental-{uuid.uuid4().hex[:10]}/")
    space.summary_dir = tmp_path_factory.mktemp("summaries")
    yield space
    keys = list(list_keys(s3, s3_settings.bucket, space.prefix))
    for start in range(0, len(keys), 1000):
        s3.delete_objects(
            Bucket=s3_settings.bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]}
        )


@pytest.fixture(scope="module")
def chain(workspace, hadoop_home):
    """First run, then two increments (the second on Hadoop), then a run with nothing new;
    each followed by a full recount of the same metadata."""
    space = workspace
    space.write(range(1, 41))
    space.s3.put_object(Bucket=space.bucket, Key=f"{space.prefix}metadata/broken.json", Body=b"{not json")
    steps = []
    first, summary = space.run("inc", "-r", "local")
    steps.append((first, summary, space.full_recount()))
    space.write(range(41, 66))  # same buckets as before, and new ones (hours 10-13)
    second, summary = space.run("inc", "-r", "local")
    steps.append((second, summary, space.full_recount()))
    space.write(range(66, 80))
    third, summary = space.run("inc", "-r", "hadoop", "--hadoop-home", str(hadoop_home))
    steps.append((third, summary, space.full_recount()))
    fourth, summary = space.run("inc")
    steps.append((fourth, summary, space.full_recount()))
    return steps


def test_the_first_run_counts_everything(chain):
    _, summary, _ = chain[0]
    assert summary["mode"] == "full" and summary["base_run"] is None
    assert summary["objects_read"] == summary["objects_listed"] == 41
    assert summary["bad_records"] == 1


def test_increments_read_only_new_objects_and_equal_a_full_recount(chain, workspace):
    previous_lines = None
    for number, (run_id, summary, recount) in enumerate(chain):
        lines = workspace.lines("inc", run_id)
        assert lines == recount, f"run {number + 1} ({summary['mode']}) differs from a full recount"
        assert lines and all(Aggregate.from_line(line) for line in lines)
        if number:
            assert summary["mode"] == "incremental"
            assert summary["base_run"] == chain[number - 1][0]
            assert summary["bad_records"] == 0  # the broken object was reported once, by the first run
        if number in (1, 2):
            assert lines != previous_lines  # the increment did change the totals
        previous_lines = lines
    assert [summary["objects_read"] for _, summary, _ in chain] == [41, 25, 14, 0]
    assert [summary["objects_listed"] for _, summary, _ in chain] == [41, 66, 80, 80]


def test_a_rewritten_object_makes_the_run_a_full_recount(chain, workspace):
    workspace.write([5], detections=[{"label": "zebra", "class_id": 22, "confidence": 0.9, "box": [0, 0, 5, 5]}])
    run_id, summary = workspace.run("inc")
    assert summary["mode"] == "full"
    assert "1 object(s) counted by run" in summary["reason"] and "rewritten" in summary["reason"]
    lines = workspace.lines("inc", run_id)
    assert lines == workspace.full_recount()
    assert any('"label":"zebra"' in line for line in lines)


def test_indexing_each_increment_leaves_the_full_recount_in_the_index(chain, workspace, pipeline_env, es):
    index = f"it-incremental-{uuid.uuid4().hex[:10]}"
    try:
        for run_id, _, _ in chain[:3]:
            settings = IndexerSettings.from_env(
                pipeline_env, es={"index": index}, run_id=run_id, output_prefix=f"{workspace.prefix}inc/"
            )
            summary = index_run(settings, workspace.s3, es, datetime.now(timezone.utc))
            assert summary.outcome.failed == 0 and not summary.skipped
            # every run of the chain carries the broken object the first one skipped: the
            # indexer then prunes nothing (its buckets may be missing), which changes no count
            assert not summary.pruned and "skipped 1 malformed record" in summary.prune_refused
        hits = es.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
        indexed = {
            (h["_source"]["label"], h["_source"]["source"], h["_source"]["bucket_start"]): (
                h["_source"]["detections"],
                h["_source"]["images"],
            )
            for h in hits
        }
        expected = {}
        for line in chain[2][2]:
            data = json.loads(line)
            expected[(data["label"], data["source"], data["bucket_start"])] = (data["detections"], data["images"])
        assert indexed == expected
    finally:
        es.indices.delete(index=[index, lock_index(index)], ignore_unavailable=True)


def test_old_runs_are_removed_beyond_keep_runs(workspace):
    before = run_ids(workspace.s3, workspace.bucket, f"{workspace.prefix}full/")
    assert len(before) >= 5
    run_id, summary = workspace.run("full", "--keep-runs", "2")
    assert summary["mode"] == "incremental" and summary["removed_runs"] == before[:-1]
    for removed in before[:-1]:
        assert not list(list_keys(workspace.s3, workspace.bucket, f"{workspace.prefix}full/{removed}/"))
    assert workspace.lines("full", before[-1]) == workspace.lines("full", run_id)
