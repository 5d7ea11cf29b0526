"""The scheduler's check of the alert rules on the batch index: the query, the paging, and
which breaches are new, and the late check of a run that died before its own (no services;
the real thing is in tests/integration/scheduler)."""

import json
import threading
from datetime import datetime, timezone

import pytest

from pipeline_common.contracts import batch_runs
from pipeline_common.contracts.alerts import rule
from scheduler import alerts
from scheduler.alerts import Snapshot, breach_body, breached, finer_or_equal, from_pending, new_breaches, to_pending
from scheduler.batch import BatchContext, _check_previous_alerts
from scheduler.records import RunRecord, RunRecords
from scheduler.settings import SchedulerSettings

UTC = timezone.utc
HOURLY = rule("person", "gate", "hour", 4)
DAILY_ANY = rule("car", "*", "day", 0)
SECRETS = {"SCHEDULER_ES_USERNAME": "batch-scheduler", "SCHEDULER_ES_PASSWORD": "secret"}


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_a_rule_rolls_up_finer_intervals_and_never_coarser_ones():
    assert finer_or_equal(HOURLY.interval) == ["minute", "hour"]
    assert finer_or_equal(DAILY_ANY.interval) == ["minute", "hour", "day"]
    assert finer_or_equal(rule("a", "*", "minute", 1).interval) == ["minute"]


def test_the_query_filters_the_rule_and_the_run_and_groups_by_the_rules_interval():
    body = breach_body(HOURLY, run_id="20261128T120000Z", after={"interval": "hour", "bucket": 1})
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"label": "person"}} in filters
    assert {"term": {"source": "gate"}} in filters
    assert {"term": {"run_id": "20261128T120000Z"}} in filters
    composite = body["aggs"]["buckets"]["composite"]
    assert composite["sources"][1]["bucket"]["date_histogram"]["calendar_interval"] == "1h"
    assert composite["after"] == {"interval": "hour", "bucket": 1}
    # any source: every source's documents count towards the bucket; before a run: every run's
    any_body = breach_body(DAILY_ANY)
    fields = {next(iter(clause["term"])) for clause in any_body["query"]["bool"]["filter"] if "term" in clause}
    assert fields == {"label"}
    assert "after" not in any_body["aggs"]["buckets"]["composite"]


class PagedSearch:
    """Answers composite searches from `pages`, one after the other; records the bodies."""

    def __init__(self, pages):
        self.pages, self.bodies = list(pages), []

    def search(self, index, **body):
        self.bodies.append(body)
        buckets, after = self.pages.pop(0)
        found = {"buckets": buckets}
        if after is not None:
            found["after_key"] = after
        return {"aggregations": {"buckets": found}}


def bucket(hour: int, count: float) -> dict:
    return {
        "key": {"interval": "hour", "bucket": millis(datetime(2026, 11, 28, hour, tzinfo=UTC))},
        "count": {"value": count},
    }


def test_every_page_is_read_and_only_breaches_are_kept(monkeypatch):
    monkeypatch.setattr(alerts, "PAGE", 2)
    es = PagedSearch([([bucket(1, 4), bucket(2, 5)], {"interval": "hour", "bucket": 2}), ([bucket(3, 9)], None)])
    found = breached(es, "counts", [HOURLY])
    assert {key[2].hour: count for key, (_, count) in found.items()} == {2: 5, 3: 9}  # 4 is not above 4
    assert es.bodies[1]["aggs"]["buckets"]["composite"]["after"] == {"interval": "hour", "bucket": 2}


def test_no_batch_index_yet_means_no_breach():
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import NotFoundError

    class Missing:
        def search(self, **_):
            meta = ApiResponseMeta(404, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9200))
            raise NotFoundError("index_not_found_exception", meta, {})

    assert breached(Missing(), "counts", [HOURLY]) == {}


def test_a_breach_is_new_only_if_the_bucket_did_not_breach_before_the_run():
    at = datetime(2026, 11, 28, 10, tzinfo=UTC)
    later = datetime(2026, 11, 28, 11, tzinfo=UTC)
    before = {(HOURLY.rule_id, "hour", at): (HOURLY, 6)}
    after = {
        (HOURLY.rule_id, "hour", at): (HOURLY, 9),  # more in a bucket that breached already: the same breach
        (HOURLY.rule_id, "hour", later): (HOURLY, 5),
        (HOURLY.rule_id, "minute", at): (HOURLY, 6),  # other documents (a minute run): not compared with hours
    }
    found = new_breaches(before, after)
    assert [(a.bucket_start, a.count) for a in found] == [(at, 6), (later, 5)]
    assert found[1].alert_id == new_breaches({}, {(HOURLY.rule_id, "hour", later): (HOURLY, 7)})[0].alert_id


class OldRunsIndex:
    """A runs index made before the `alerts` field, and an account that may not add it."""

    def __init__(self):
        self.indices, self.written = self, []

    def exists(self, index):
        return True

    def put_mapping(self, index, properties):
        from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
        from elasticsearch import AuthorizationException

        meta = ApiResponseMeta(403, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9200))
        raise AuthorizationException("action [indices:admin/mapping/put] is unauthorized", meta, {})

    def get_mapping(self, index):
        old = {name: kind for name, kind in batch_runs.MAPPINGS["properties"].items() if name != "alerts"}
        return type("Answer", (), {"body": {index: {"mappings": {"properties": old}}}})()

    def index(self, index, id, document, refresh):
        self.written.append(document)


def test_a_runs_index_that_cannot_take_the_alerts_field_still_gets_its_records(caplog):
    es = OldRunsIndex()
    records = RunRecords(es, "pipeline-batch-runs")
    records.ensure_index()
    record = RunRecord("incremental", "schedule", datetime(2026, 11, 28, tzinfo=UTC), "here:1", run_id="r1")
    record.alerts = {"rules": 1, "new_breaches": 0, "fired": 0}
    records.write(record)
    assert "alerts" not in es.written[0] and es.written[0]["run_id"] == "r1"
    assert "indices:admin/mapping/put" in caplog.text  # says what to grant


def test_the_snapshot_a_run_record_keeps_reads_back_with_the_rules_of_then():
    at, later, newer = (datetime(2026, 11, 28, hour, tzinfo=UTC) for hour in (10, 11, 12))
    day = datetime(2026, 11, 28, tzinfo=UTC)
    snapshot = Snapshot(
        [HOURLY, DAILY_ANY],
        {
            (HOURLY.rule_id, "hour", at): (HOURLY, 6),
            (HOURLY.rule_id, "hour", later): (HOURLY, 5),
            (DAILY_ANY.rule_id, "hour", day): (DAILY_ANY, 3),
        },
    )
    kept = json.loads(json.dumps(to_pending(snapshot)))  # as the run record stores it
    added_since = rule("person", "gate", "hour", 1)
    back = from_pending(kept, [HOURLY, added_since])  # DAILY_ANY was removed since
    assert back.rules == [HOURLY]  # a rule added since would take old breaches for new ones
    assert set(back.breached) == set(snapshot.breached)
    after = {(HOURLY.rule_id, "hour", at): (HOURLY, 9), (HOURLY.rule_id, "hour", newer): (HOURLY, 5)}
    assert [a.bucket_start for a in new_breaches(back.breached, after)] == [newer]


class Records:
    """The run records the next run reads (the newest one) and updates."""

    def __init__(self, newest):
        self.newest, self.updated = newest, []

    def last(self):
        return self.newest

    def set_alerts(self, record_id, alerts):
        self.updated.append((record_id, alerts))


class LateCheck:
    def __init__(self, fails=False):
        self.fails, self.calls = fails, []

    def recheck(self, pending, run_id):
        self.calls.append((pending, run_id))
        if self.fails:
            from elastic_transport import ConnectionError as TransportConnectionError

            raise TransportConnectionError("unreachable")
        return {"rules": 1, "new_breaches": 1, "fired": 1}


def context(newest, check) -> BatchContext:
    settings = SchedulerSettings.from_env(SECRETS)
    return BatchContext(settings, None, Records(newest), threading.Event(), runner="next:2", alerts=check)


PENDING = {"rules": [HOURLY.rule_id], "breached": []}


def test_the_next_run_checks_a_previous_run_that_died_before_its_check():
    died = {"record_id": "r1", "run_id": "20261128T120000Z", "outcome": "abandoned", "alerts": {"pending": PENDING}}
    check = LateCheck()
    ctx = context(died, check)
    _check_previous_alerts(ctx)
    assert check.calls == [(PENDING, "20261128T120000Z")]
    [(record_id, alerts)] = ctx.records.updated
    assert record_id == "r1" and alerts["fired"] == 1 and alerts["checked_by"] == "next:2" and "pending" not in alerts


@pytest.mark.parametrize(
    "newest",
    [
        None,  # no run yet
        {"record_id": "r1", "run_id": "x", "outcome": "success", "alerts": {"rules": 1, "new_breaches": 0}},  # checked
        {"record_id": "r1", "outcome": "failed", "alerts": {"rules": 1}},  # nothing indexed
    ],
)
def test_a_previous_run_that_checked_or_indexed_nothing_is_left_alone(newest):
    check = LateCheck()
    ctx = context(newest, check)
    _check_previous_alerts(ctx)
    assert check.calls == [] and ctx.records.updated == []


def test_a_late_check_that_fails_says_so_in_the_previous_record():
    died = {"record_id": "r1", "run_id": "20261128T120000Z", "outcome": "interrupted", "alerts": {"pending": PENDING}}
    ctx = context(died, LateCheck(fails=True))
    _check_previous_alerts(ctx)
    [(_, alerts)] = ctx.records.updated
    assert alerts["error"].startswith("checking the alert rules late failed") and alerts["checked_by"] == "next:2"
