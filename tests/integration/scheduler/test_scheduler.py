"""The scheduler against the real Elasticsearch and S3, running the real aggregation
(`-r inline`; once `-r hadoop` on the local YARN cluster) and indexer as child processes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import batch_runs
from pipeline_common.lease import LOCK_MAPPINGS, Lease, ensure_index
from pipeline_common.settings import FrontendElasticsearchSettings
from pipeline_common.timestamps import parse_iso
from scheduler.batch import BatchContext, run_batch
from scheduler.records import RunRecord, RunRecords
from scheduler.service import build_scheduler
from scheduler.settings import SchedulerSettings
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

from .conftest import scheduler_once, wait_for


def records_of(es, index):
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    return [hit["_source"] for hit in es.search(index=index, size=500, query={"match_all": {}})["hits"]["hits"]]


def test_lease_is_exclusive_renewable_and_taken_over_only_when_expired(es, space):
    index = space.env["SCHEDULER_LOCK_INDEX"]
    ensure_index(es, index, LOCK_MAPPINGS)
    now = [datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)]
    first = Lease(es, index, "batch", "host-a:1", timedelta(seconds=60), clock=lambda: now[0])
    second = Lease(es, index, "batch", "host-b:2", timedelta(seconds=60), clock=lambda: now[0])
    assert first.try_acquire() is None and first.held
    holder = second.try_acquire()
    assert holder is not None and holder.owner == "host-a:1" and not second.held
    now[0] += timedelta(seconds=50)
    assert first.renew()  # pushed on to 10:01:50
    now[0] += timedelta(seconds=50)
    assert second.try_acquire() is not None  # 10:01:40: still held
    now[0] += timedelta(seconds=61)
    assert second.try_acquire() is None and second.previous.owner == "host-a:1"  # expired: taken over
    assert not first.renew()  # the old holder learns it lost the lease
    first.release()  # and releasing does not remove the new holder's lock
    assert Lease(es, index, "batch", "host-c:3", timedelta(seconds=60), clock=lambda: now[0]).try_acquire() is not None
    second.release()
    third = Lease(es, index, "batch", "host-c:3", timedelta(seconds=60), clock=lambda: now[0])
    assert third.try_acquire() is None
    third.release()


def test_two_schedulers_never_run_the_aggregation_at_once(es, space, start_scheduler):
    env = {**space.env, "SCHEDULER_CRON": "*/4 * * * * *", "SCHEDULER_LOCK_WAIT_S": "300"}
    runs_index = env["ES_RUNS_INDEX"]
    schedulers = [start_scheduler(env), start_scheduler(env)]

    def enough():
        found = records_of(es, runs_index)
        successes = [r for r in found if r["outcome"] == batch_runs.SUCCESS]
        skipped = [r for r in found if r["outcome"] == batch_runs.SKIPPED]
        return found if len(successes) >= 3 and skipped else None

    try:
        wait_for(enough, "three successful runs and one skipped by the other scheduler", timeout=900)
    finally:
        codes = [scheduler.stop() for scheduler in schedulers]
    assert codes == [0, 0], [s.output()[-3000:] for s in schedulers]
    found = records_of(es, runs_index)
    ran = sorted((r for r in found if r["outcome"] != batch_runs.SKIPPED), key=lambda r: r["started_at"])
    for earlier, later in zip(ran, ran[1:], strict=False):
        assert parse_iso(earlier["finished_at"]) <= parse_iso(later["started_at"]), (earlier, later)
    assert {r["outcome"] for r in ran} <= {batch_runs.SUCCESS, batch_runs.INTERRUPTED}
    assert all(r["aggregation"]["objects_listed"] == 3 for r in ran if r["outcome"] == batch_runs.SUCCESS)
    assert any(
        "already done" in r["reason"] or "lock was held" in r["reason"]
        for r in found
        if r["outcome"] == batch_runs.SKIPPED
    )
    # the wrapped aggregation's own view: never two at once, and each one it saw ended
    assert not (space.probe_dir / "overlaps").exists(), (space.probe_dir / "overlaps").read_text()
    lines = (space.probe_dir / "runs").read_text().splitlines()
    probe_runs = sorted(tuple(map(float, line.split()[:2])) for line in lines)
    assert len(probe_runs) >= 3
    for (_, end), (start, _) in zip(probe_runs, probe_runs[1:], strict=False):
        assert end <= start
    # stopped cleanly: the lock is released and no record says "running"
    assert not es.exists(index=env["SCHEDULER_LOCK_INDEX"], id="batch")
    assert not [r for r in found if r["outcome"] == batch_runs.RUNNING]


def _context(es, pipeline_env, env) -> BatchContext:
    settings = SchedulerSettings.from_env({**pipeline_env, **env})
    return BatchContext(settings, es, RunRecords(es, settings.es.runs_index), threading.Event())


def test_a_run_missed_while_down_is_made_at_start_and_shown_by_health(es, pipeline_env, space, start_scheduler):
    env = {**space.env, "SCHEDULER_CRON": "0 0 1 1 *"}  # yearly: the last fire was on January 1st
    ctx = _context(es, pipeline_env, env)
    ctx.prepare()
    now = datetime.now(timezone.utc)
    new_year = datetime(now.year, 1, 1, tzinfo=timezone.utc)
    # the last run this deployment made served the fire time before the latest one
    ctx.records.write(
        RunRecord(
            kind=batch_runs.INCREMENTAL,
            trigger="schedule",
            scheduled_for=new_year.replace(year=now.year - 1),
            runner="gone:1",
            run_id="20000101T000000Z",
            started_at=new_year.replace(year=now.year - 1),
            finished_at=new_year.replace(year=now.year - 1) + timedelta(seconds=30),
            outcome=batch_runs.SUCCESS,
        )
    )
    assert build_scheduler(ctx).get_job("catch-up") is not None

    scheduler = start_scheduler(env)
    try:
        caught_up = wait_for(
            lambda: [
                r
                for r in records_of(es, ctx.settings.es.runs_index)
                if r.get("trigger") == "catch-up" and r["outcome"] != batch_runs.RUNNING
            ],
            "the catch-up run",
            timeout=600,
        )
    finally:
        assert scheduler.stop() == 0, scheduler.output()[-3000:]
    record = caught_up[0]
    assert record["outcome"] == batch_runs.SUCCESS, record
    assert parse_iso(record["scheduled_for"]) == new_year
    assert record["aggregation"]["objects_listed"] == 3 and record["indexer"]["created"] == 1
    # served now: a scheduler starting again has nothing to catch up
    assert build_scheduler(ctx).get_job("catch-up") is None

    settings = FrontendSettings(elasticsearch=FrontendElasticsearchSettings.from_env({**pipeline_env, **env}))
    app = create_app({"FRONTEND_SETTINGS": settings, "ES_CLIENT": es})
    body = app.test_client().get("/api/health").get_json()
    assert body["status"] == "ok"
    last = body["batch"]["last_run"]
    assert (last["run_id"], last["outcome"], last["trigger"]) == (record["run_id"], "success", "catch-up")
    assert last["objects_listed"] == 3 and 0 <= last["age_s"] < 24 * 3600
    assert body["batch"]["last_success"]["run_id"] == record["run_id"]


def test_once_waits_for_the_lock_and_records_a_skip(es, pipeline_env, space):
    env = {**space.env, "SCHEDULER_LOCK_WAIT_S": "0"}
    ctx = _context(es, pipeline_env, env)
    ctx.prepare()
    blocker = Lease(es, env["SCHEDULER_LOCK_INDEX"], "batch", "elsewhere:9", timedelta(seconds=60))
    assert blocker.try_acquire() is None
    try:
        record = run_batch(ctx, batch_runs.INCREMENTAL, "manual", datetime.now(timezone.utc), check_done=False)
    finally:
        blocker.release()
    assert record.outcome == batch_runs.SKIPPED and "elsewhere:9" in record.reason
    assert records_of(es, ctx.settings.es.runs_index)[0]["outcome"] == batch_runs.SKIPPED


@pytest.mark.parametrize("kind", [batch_runs.FULL])
def test_a_run_already_done_by_another_scheduler_is_skipped(es, pipeline_env, space, kind):
    ctx = _context(es, pipeline_env, space.env)
    ctx.prepare()
    due = datetime.now(timezone.utc) - timedelta(seconds=5)
    ctx.records.write(
        RunRecord(
            kind=kind,
            trigger="schedule",
            scheduled_for=due,
            runner="other:7",
            run_id="20991231T000000Z",
            started_at=due + timedelta(seconds=1),
            finished_at=due + timedelta(seconds=2),
            outcome=batch_runs.SUCCESS,
        )
    )
    record = run_batch(ctx, batch_runs.INCREMENTAL, "schedule", due)
    assert record.outcome == batch_runs.SKIPPED and "already done by run 20991231T000000Z (other:7)" in record.reason


@pytest.mark.slow
@pytest.mark.cluster
def test_once_runs_the_aggregation_on_the_local_yarn_cluster(es, space, hadoop_cluster):
    """AGGREGATION_RUNNER=hadoop with HADOOP_HOME at the cluster's client install, as a
    deployment sets them: the scheduler's aggregation child (`python -m hadoop`, with the
    scheduler's environment) submits both steps to YARN, and the run is published and indexed."""
    env = {name: value for name, value in space.env.items() if name != "SCHEDULER_AGGREGATION_COMMAND"}
    env.update(AGGREGATION_RUNNER="hadoop", HADOOP_HOME=str(hadoop_cluster.home))
    result = scheduler_once(env, "--full", timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (record,) = records_of(es, env["ES_RUNS_INDEX"])
    assert (record["outcome"], record["kind"]) == (batch_runs.SUCCESS, batch_runs.FULL), record
    assert record["aggregation"]["objects_listed"] == 3 and record["indexer"]["created"] == 1
    apps = hadoop_cluster.applications(f"object-counts {record['run_id']}")
    assert [(app["state"], app["finalStatus"]) for app in apps] == [("FINISHED", "SUCCEEDED")] * 2
    es.indices.refresh(index=env["ES_INDEX"])
    (document,) = [hit["_source"] for hit in es.search(index=env["ES_INDEX"], size=10)["hits"]["hits"]]
    assert (document["label"], document["source"], document["detections"], document["images"]) == (
        "person",
        "gate",
        6,
        3,
    )
