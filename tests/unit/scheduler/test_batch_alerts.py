"""The scheduler's check of the alert rules on the batch index: the query, the paging, and
which breaches are new (no services; the real thing is in tests/integration/scheduler)."""

from datetime import datetime, timezone

from pipeline_common.contracts import batch_runs
from pipeline_common.contracts.alerts import rule
from scheduler import alerts
from scheduler.alerts import breach_body, breached, finer_or_equal, new_breaches
from scheduler.records import RunRecord, RunRecords

UTC = timezone.utc
HOURLY = rule("person", "gate", "hour", 4)
DAILY_ANY = rule("car", "*", "day", 0)


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
