"""The indexer CLI against the real S3 and Elasticsearch: a unique run prefix and a
unique index per test."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from es_indexer import cli
from es_indexer.documents import FIELD_TYPES
from es_indexer.run import LOCK_NAME, lock_index
from pipeline_common.contracts import Aggregate, Interval
from pipeline_common.lease import LOCK_MAPPINGS, Lease, ensure_index
from pipeline_common.s3 import delete_prefix

T0 = datetime(2026, 11, 28, 8, tzinfo=timezone.utc)


def agg(label, hours=0, detections=2, images=1, source="cam-1", interval=Interval.HOUR):
    return Aggregate(label, source, interval, T0 + timedelta(hours=hours), detections, images)


@pytest.fixture
def output_prefix(s3, s3_settings, unique_name):
    prefix = f"{unique_name('it-indexer')}/mapreduce-output/"
    yield prefix
    delete_prefix(s3, s3_settings.bucket, prefix.split("/")[0] + "/")


@pytest.fixture
def index(es, es_settings, unique_name):
    """A fresh index in the indexer's family (ES_INDEX*), the one its own account may write."""
    name = f"{es_settings.index}-{unique_name('it')}"
    yield name
    es.indices.delete(index=[name, lock_index(name)], ignore_unavailable=True)


@pytest.fixture
def put_run(s3, s3_settings, output_prefix):
    """put_run(run_id, {"part-00000": [lines]}, complete=True, objects=100, bad_records=0): the
    parts, the run's description (_run.json: the input objects it covered, the malformed
    records it skipped) and its marker, as the aggregation writes them."""

    def put(run_id, parts, complete=True, objects=100, bad_records=0):
        for name, lines in parts.items():
            body = "".join(f"{line}\n" for line in lines).encode()
            s3.put_object(Bucket=s3_settings.bucket, Key=f"{output_prefix}{run_id}/{name}", Body=body)
        state = {
            "run_id": run_id,
            "mode": "full",
            "interval": "hour",
            "input_prefix": "metadata/",
            "objects": objects,
            "bad_records": bad_records,
            "bad_records_total": bad_records,
        }
        s3.put_object(
            Bucket=s3_settings.bucket, Key=f"{output_prefix}{run_id}/_run.json", Body=json.dumps(state).encode()
        )
        if complete:
            s3.put_object(Bucket=s3_settings.bucket, Key=f"{output_prefix}{run_id}/_SUCCESS", Body=b"")

    return put


@pytest.fixture
def run_indexer(output_prefix, index, capsys):
    def run(*args):
        code = cli.main(["--index", index, "--output-prefix", output_prefix, *args])
        return code, capsys.readouterr().out

    return run


def indexed(es, index):
    """{(label, source, interval, bucket_start): (detections, images, run_id)}"""
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
    table = {}
    for hit in hits:
        doc = hit["_source"]
        key = (doc["label"], doc["source"], doc["interval"], doc["bucket_start"])
        assert key not in table, f"two documents for {key}"
        table[key] = (doc["detections"], doc["images"], doc["run_id"])
    return table


def expected(aggregates, run_id):
    return {
        (a.label, a.source, a.interval.value, a.to_dict()["bucket_start"]): (a.detections, a.images, run_id)
        for a in aggregates
    }


def lines(aggregates):
    return [a.to_line() for a in aggregates]


RUN_A, RUN_B, RUN_C = "20261128T090000Z", "20261128T100000Z", "20261128T110000Z"


def test_indexes_the_newest_complete_run_with_the_explicit_mapping(es, index, put_run, run_indexer):
    older = [agg("person", 0), agg("car", 1)]
    newest_complete = [agg("person", 0, 5, 3), agg("dog", 2), agg("car", 1, 1, 1)]
    put_run(RUN_A, {"part-00000": lines(older)})
    put_run(RUN_B, {"part-00000": lines(newest_complete[:2]), "part-00001": lines(newest_complete[2:])})
    put_run(RUN_C, {"part-00000": lines([agg("cat", 0)])}, complete=False)  # still being written

    code, out = run_indexer()

    assert code == 0
    assert indexed(es, index) == expected(newest_complete, RUN_B)
    assert f"run {RUN_B}" in out and "indexed (created): 3" in out and "failed:            0" in out
    properties = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert {name: spec["type"] for name, spec in properties.items()} == FIELD_TYPES


def test_indexing_again_leaves_the_counts_unchanged(es, index, put_run, run_indexer):
    aggregates = [agg("person", h, 2 + h, 1 + h) for h in range(4)]
    put_run(RUN_A, {"part-00000": lines(aggregates)})

    assert run_indexer()[0] == 0
    first = indexed(es, index)
    code, out = run_indexer()

    assert code == 0
    assert indexed(es, index) == first == expected(aggregates, RUN_A)
    assert "indexed (created): 0" in out and "updated:           4" in out


def test_a_newer_run_over_an_older_one_equals_a_count_from_scratch(
    es, index, put_run, run_indexer, output_prefix, unique_name
):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0), agg("car", 1), agg("bus", 2)])})
    # a daily aggregate from another job: a newer hourly run must not touch it
    day_run, day = "20261128T093000Z", agg("person", 0, 9, 4, interval=Interval.DAY)
    put_run(day_run, {"part-00000": lines([day])})
    newer = [agg("person", 0, 7, 5), agg("truck", 3)]  # the car and bus buckets are gone
    put_run(RUN_B, {"part-00000": lines(newer)})

    assert run_indexer("--run-id", RUN_A)[0] == 0
    assert run_indexer("--run-id", day_run)[0] == 0
    code, out = run_indexer("--run-id", RUN_B)

    assert code == 0
    assert "stale deleted:     2" in out
    result = indexed(es, index)
    assert result == {**expected(newer, RUN_B), **expected([day], day_run)}

    scratch = f"{index}-scratch"
    try:
        assert cli.main(["--index", scratch, "--output-prefix", output_prefix, "--run-id", RUN_B]) == 0
        hourly = {key: value for key, value in result.items() if key[2] == "hour"}
        assert hourly == indexed(es, scratch)
    finally:
        es.indices.delete(index=scratch, ignore_unavailable=True)


def test_a_malformed_line_is_skipped_and_reported_with_file_and_line(es, index, put_run, run_indexer, caplog):
    good = [agg("person", 0), agg("car", 0)]
    put_run(RUN_A, {"part-00000": [good[0].to_line(), '{"label": "broken"', good[1].to_line()]})

    code, out = run_indexer()

    assert code == 3
    assert indexed(es, index) == expected(good, RUN_A)
    assert "skipped lines:     1" in out
    assert any(f"{RUN_A}/part-00000:2: " in r.getMessage() for r in caplog.records)


def test_a_run_with_a_malformed_line_deletes_no_earlier_bucket(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0), agg("car", 1)])})
    assert run_indexer()[0] == 0
    # the car line of the newer run is damaged: its older count must stay
    put_run(RUN_B, {"part-00000": [agg("person", 0, 7, 5).to_line(), '{"label": "car", "sou']})

    code, out = run_indexer()

    assert code == 3
    assert "pruning skipped" in out
    assert indexed(es, index) == {**expected([agg("car", 1)], RUN_A), **expected([agg("person", 0, 7, 5)], RUN_B)}


def test_no_complete_run_or_an_unknown_run_exits_2(es, index, put_run, run_indexer):
    assert run_indexer()[0] == 2  # nothing under the prefix at all
    put_run(RUN_A, {"part-00000": lines([agg("person")])}, complete=False)
    assert run_indexer()[0] == 2
    assert run_indexer("--run-id", RUN_A)[0] == 2
    assert run_indexer("--run-id", RUN_B)[0] == 2
    assert not es.indices.exists(index=index)


def test_an_older_run_is_refused_unless_asked_for(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0, 1, 1)])})
    put_run(RUN_B, {"part-00000": lines([agg("person", 0, 4, 2)])})
    assert run_indexer()[0] == 0

    assert run_indexer("--run-id", RUN_A)[0] == 2
    assert indexed(es, index) == expected([agg("person", 0, 4, 2)], RUN_B)
    assert run_indexer("--run-id", RUN_A, "--allow-older")[0] == 0
    assert indexed(es, index) == expected([agg("person", 0, 1, 1)], RUN_A)


def test_documents_that_fail_are_reported_and_exit_1(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0), agg("car", 0)])})
    assert run_indexer()[0] == 0
    put_run(RUN_B, {"part-00000": lines([agg("person", 0, 8, 4), agg("dog", 1)])})
    es.indices.put_settings(index=index, settings={"index.blocks.write": True})
    try:
        code, out = run_indexer()
    finally:
        es.indices.put_settings(index=index, settings={"index.blocks.write": False})

    assert code == 1
    assert "failed:            2" in out and "pruning skipped" in out
    assert indexed(es, index) == expected([agg("person", 0), agg("car", 0)], RUN_A)


def test_a_run_over_much_less_input_is_indexed_but_deletes_no_earlier_bucket(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0), agg("car", 1), agg("bus", 2)])}, objects=1000)
    assert run_indexer()[0] == 0
    # a wrong prefix or expired objects: a tenth of the input, most buckets missing
    put_run(RUN_B, {"part-00000": lines([agg("person", 0, 7, 5)])}, objects=100)

    code, out = run_indexer()

    assert code == 0
    assert "covered 100 input object(s), under 0.5 x the 1000" in out and "stale deleted:     0" in out
    assert indexed(es, index) == {
        **expected([agg("car", 1), agg("bus", 2)], RUN_A),
        **expected([agg("person", 0, 7, 5)], RUN_B),
    }


def test_a_run_whose_aggregation_skipped_records_deletes_no_earlier_bucket(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0), agg("car", 1)])})
    assert run_indexer()[0] == 0
    put_run(RUN_B, {"part-00000": lines([agg("person", 0, 7, 5)])}, bad_records=1)  # the car's record was bad

    code, out = run_indexer()

    assert code == 0
    assert "skipped 1 malformed record(s)" in out
    assert indexed(es, index) == {**expected([agg("car", 1)], RUN_A), **expected([agg("person", 0, 7, 5)], RUN_B)}


def test_a_second_indexer_on_the_same_index_is_refused(es, index, put_run, run_indexer):
    put_run(RUN_A, {"part-00000": lines([agg("person", 0)])})
    ensure_index(es, lock_index(index), LOCK_MAPPINGS)
    other = Lease(es, lock_index(index), LOCK_NAME, "count-indexer@elsewhere:1", timedelta(minutes=2))
    assert other.try_acquire() is None
    try:
        code, _ = run_indexer()
        assert code == 4
        assert not es.indices.exists(index=index)  # it did nothing
    finally:
        other.release()
    assert run_indexer()[0] == 0  # once the other is done
