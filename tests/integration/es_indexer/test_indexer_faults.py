"""Elasticsearch killed (SIGKILL) while the indexer writes a run (issue 8, item 7): the
indexer fails with a clear message and exit code 1, and once Elasticsearch is back a
re-run leaves exactly the run's counts. Only on a stack of the session's own (the
`own_service` fixture, PIPELINE_SERVICES=isolated); a few minutes, mostly Elasticsearch
starting again and the killed run's lease expiring."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from es_indexer.run import LEASE, lock_index
from pipeline_common.contracts import Aggregate, Interval
from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.s3 import delete_prefix

pytestmark = [pytest.mark.fault, pytest.mark.slow]
T0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
RUN_ID = "20261128T090000Z"
LINES = 60_000  # enough bulk requests (chunks of 100) that the kill lands mid-run
DEADLINE_S = 300  # a fault test that does not recover fails, it does not hang


def indexer(processes, env: dict[str, str], *args: str) -> subprocess.Popen:
    """`count-indexer` as a user runs it; killed after the test if it still runs."""
    return processes.start(
        [sys.executable, "-m", "es_indexer", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_elasticsearch_killed_during_indexing_fails_clearly_and_a_rerun_gives_the_right_counts(
    own_service,
    pipeline_env,
    s3,
    s3_settings,
    es,
    es_settings,
    unique_name,
    processes,
):
    elasticsearch = own_service("elasticsearch")
    prefix = f"{unique_name('it-indexer-fault')}/mapreduce-output/"
    index = f"{es_settings.index}-{unique_name('it-fault')}"
    aggregates = [
        Aggregate("person", f"cam-{n % 7}", Interval.HOUR, T0 + timedelta(hours=n // 7), n % 5 + 1, 1)
        for n in range(LINES)
    ]
    body = "".join(a.to_line() + "\n" for a in aggregates).encode()
    run = f"{prefix}{RUN_ID}/"
    s3.put_object(Bucket=s3_settings.bucket, Key=run + "part-00000", Body=body)
    s3.put_object(
        Bucket=s3_settings.bucket,
        Key=run + "_run.json",
        Body=json.dumps({"objects": LINES, "bad_records_total": 0}).encode(),
    )
    s3.put_object(Bucket=s3_settings.bucket, Key=run + "_SUCCESS", Body=b"")
    env = {
        **pipeline_env,
        "PIPELINE_DOTENV": "/nonexistent",
        "ES_INDEX": index,
        "INDEXER_CHUNK_SIZE": "100",
        "INDEXER_MAX_RETRIES": "1",
        "INDEXER_INITIAL_BACKOFF": "0.1",
    }
    try:
        first = indexer(processes, env, "--output-prefix", prefix)
        deadline = time.monotonic() + DEADLINE_S
        while not (es.indices.exists(index=index) and es.count(index=index)["count"] > 500):
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the indexer did not start writing"
            time.sleep(0.2)
        elasticsearch.kill()
        output = first.communicate(timeout=DEADLINE_S)[0]
        assert first.returncode == 1, output
        assert "indexing failed" in output

        killed = time.monotonic()
        elasticsearch.start()
        back = time.monotonic()
        # the killed run's lease may still stand (it could not release it): exit 4 until it
        # expires, at most LEASE after its last renewal
        deadline = time.monotonic() + LEASE.total_seconds() + 180
        while True:
            again = indexer(processes, env, "--output-prefix", prefix)
            output = again.communicate(timeout=DEADLINE_S)[0]
            if again.returncode != 4 or time.monotonic() > deadline:
                break
            time.sleep(10)
        rerun = time.monotonic()
        assert again.returncode == 0, output
        es.indices.refresh(index=index)
        assert es.count(index=index)["count"] == LINES
        total = es.search(index=index, size=0, aggs={"d": {"sum": {"field": "detections"}}})
        assert total["aggregations"]["d"]["value"] == sum(a.detections for a in aggregates)
        print(
            f"\nElasticsearch SIGKILL: {LINES} buckets, first run exit {first.returncode}, "
            f"re-run exit {again.returncode}, {es.count(index=index)['count']} documents "
            f"(Elasticsearch back in {back - killed:.0f} s, the re-run done {rerun - back:.0f} s later)"
        )
    finally:
        es.indices.delete(index=[index, lock_index(index)], ignore_unavailable=True)
        delete_prefix(s3, s3_settings.bucket, prefix.split("/")[0] + "/")
