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
from pipeline_common.contracts import Aggregate
from pipeline_common.output_runs import run_ids
from pipeline_common.s3 import list_keys
from tests.support.aggregation import AggregationRuns, metadata_record


class Workspace(AggregationRuns):
    """Runs over the metadata, which a test writes as the consumer would."""

    def write(self, numbers, **changes) -> None:
        self.write_metadata([dict(metadata_record(number), **changes) for number in numbers])


@pytest.fixture(scope="module")
def workspace(s3, s3_settings, tmp_path_factory):
    space = Workspace(
        s3,
        s3_settings.bucket,
        f"it-incremental-{uuid.uuid4().hex[:10]}/",
        tmp_path_factory.mktemp("summaries"),
        "metadata",
    )
    yield space
    space.delete_all()


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
