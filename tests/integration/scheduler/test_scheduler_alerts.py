"""The scheduler checks the alert rules on what each batch run indexed, with its own
Elasticsearch account (SCHEDULER_ES_*), against real Elasticsearch and S3, the real
aggregation and indexer: a new breach fires once, whether the live indexer saw it first or
not, never twice for the same interval, and the webhook receiver gets each alert once; a
run whose scheduler died before its check is checked by the next run."""

from __future__ import annotations

import json
import signal
import sys
import uuid
from datetime import datetime, timezone

import pytest
from elasticsearch.helpers import bulk

from es_live.alerts import AlertWatch
from es_live.documents import action
from es_live.index import ensure_template, live_index_names, template_name
from es_live.settings import LiveIndexerSettings
from pipeline_common.alerts import ensure_indices
from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import DetectionEvent
from pipeline_common.contracts.alerts import rule
from pipeline_common.timestamps import utc_now
from tests.support.webhook import Receiver

from .conftest import scheduler_once, wait_for

HOUR_10 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)  # the `space` fixture's images: 1 + 2 + 3 persons


def metadata(image_id: str, captured_at: str, persons: int) -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "image_id": image_id,
            "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
            "source": "gate",
            "captured_at": captured_at,
            "processed_at": captured_at,
            "model": {"name": "yolov3-tiny", "input_size": 416, "confidence_threshold": 0.25, "nms_threshold": 0.45},
            "width": 640,
            "height": 480,
            "detections": [{"label": "person", "class_id": 0, "confidence": 0.9, "box": [0, 0, 5, 5]}] * persons,
        }
    ).encode()


@pytest.fixture
def alert_space(es, es_settings, space):
    """The test's rules, alerts and live indices, in the families the accounts are granted."""
    names = {
        "ES_ALERT_RULES_INDEX": f"{es_settings.alert_rules_index}-it-{space.name}",
        "ES_ALERTS_INDEX": f"{es_settings.alerts_index}-it-{space.name}",
        "ES_LIVE_INDEX_PREFIX": f"{es_settings.live_index_prefix}it-{space.name}-",
    }
    ensure_indices(es, names["ES_ALERT_RULES_INDEX"], None)  # the operators' (the administrator here)
    yield names
    es.indices.delete(index=f"{names['ES_ALERT_RULES_INDEX']},{names['ES_ALERTS_INDEX']}", ignore_unavailable=True)
    for name in live_index_names(es, names["ES_LIVE_INDEX_PREFIX"]):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(names["ES_LIVE_INDEX_PREFIX"]))


def add_rule(es, index: str, **fields) -> None:
    made = rule(**fields)
    es.index(index=index, id=made.rule_id, document=made.to_source(utc_now()), refresh="wait_for")


def run_once(env: dict) -> dict:
    """`batch-scheduler once`, as an operator or a deployment script runs it; its run record."""
    done = scheduler_once(env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert "alerts" in record, done.stdout[-3000:] + done.stderr[-5000:]
    return record


def alerts_in(es, index: str) -> list[tuple]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, sort=[{"bucket_start": "asc"}, {"rule_id": "asc"}])["hits"]["hits"]
    return [(h["_source"]["rule_id"], h["_source"]["bucket_start"], h["_source"]["count"]) for h in hits]


def test_the_scheduler_fires_new_breaches_once_after_each_run(es, s3, s3_settings, pipeline_env, space, alert_space):
    rules_index, alerts_index, live_prefix = alert_space.values()
    hourly = rule("person", "gate", "hour", 4)
    daily_any_source = rule("person", "*", "day", 5)  # hour documents rolled up into the day
    for made in (hourly, daily_any_source, rule("person", "gate", "hour", 10), rule("person", "gate", "minute", 5)):
        es.index(index=rules_index, id=made.rule_id, document=made.to_source(utc_now()), refresh="wait_for")

    # the live indexer saw 10:00 first (with the counts it had then), with its own account
    ensure_template(es, live_prefix)
    live = LiveIndexerSettings.from_env({**pipeline_env, **alert_space, "PIPELINE_DOTENV": "/nonexistent"})
    with elasticsearch_client(live.es) as live_es:
        ensure_indices(live_es, None, alerts_index)
        moment = HOUR_10.replace(minute=5)
        event = DetectionEvent(uuid.uuid4().hex, "gate", moment, moment, "yolov4-tiny", {"person": 5})
        made = [action(event, live_prefix, moment)]
        bulk(es, made, refresh="wait_for")
        watch = AlertWatch(live_es, f"{live_prefix}*", rules_index, alerts_index)
        watch.written([m["_source"] for m in made])
        assert watch.check(force=True) == 1

    env = {**space.env, **alert_space}
    with Receiver() as receiver:
        env["ALERT_WEBHOOK_URL"] = receiver.url
        first = run_once(env)
        # 10:00 (6 persons) breaches the hourly rule, but the live indexer fired it already;
        # the day (6) breaches the any-source daily rule; a minute rule is not the batch's
        assert first.get("alerts") == {"rules": 4, "new_breaches": 2, "fired": 1}, first

        # a rule added now does not fire for buckets that breached before it
        add_rule(es, rules_index, label="person", source="gate", interval="hour", above=1)
        s3.put_object(
            Bucket=s3_settings.bucket,
            Key=f"{space.prefix}metadata/{4:032x}.json",
            Body=metadata(f"{4:032x}", "2026-11-28T11:20:00Z", 5),
        )
        second = run_once(env)
        # 11:00 (5) is new for the hourly rule and the one added; the day (11) breached before
        assert second.get("alerts") == {"rules": 5, "new_breaches": 2, "fired": 2}, second

    added = rule("person", "gate", "hour", 1)
    assert alerts_in(es, alerts_index) == sorted(
        [
            (hourly.rule_id, "2026-11-28T10:00:00.000Z", 5),  # the live indexer's, recorded once
            (daily_any_source.rule_id, "2026-11-28T00:00:00.000Z", 6),
            (hourly.rule_id, "2026-11-28T11:00:00.000Z", 5),
            (added.rule_id, "2026-11-28T11:00:00.000Z", 5),
        ],
        key=lambda a: (a[1], a[0]),
    )
    assert sorted((m["bucket_start"], m["rule"]) for m in receiver.received) == [
        ("2026-11-28T00:00:00.000Z", "person at any source above 5 per day"),
        ("2026-11-28T11:00:00.000Z", "person at gate above 1 per hour"),
        ("2026-11-28T11:00:00.000Z", "person at gate above 4 per hour"),
    ]


def test_a_run_whose_scheduler_died_before_checking_is_made_again_and_checked_at_restart(
    es, pipeline_env, space, alert_space, start_scheduler
):
    rules_index, alerts_index, _ = alert_space.values()
    hourly = rule("person", "gate", "hour", 4)  # 10:00 holds 1 + 2 + 3 persons
    add_rule(es, rules_index, label="person", source="gate", interval="hour", above=4)
    env = {**space.env, **alert_space}
    runs_index = env["ES_RUNS_INDEX"]

    # the scheduler dies (SIGKILL) right after its indexer step has indexed the run
    dying = {
        **env,
        "SCHEDULER_INDEXER_COMMAND": f"sh -c '\"$@\" && kill -9 $PPID' index-then-kill {sys.executable} -m es_indexer",
    }
    done = scheduler_once(dying)
    assert done.returncode == -signal.SIGKILL, done.stdout[-3000:] + done.stderr[-3000:]
    es.indices.refresh(index=f"{runs_index},{env['ES_INDEX']}")
    dead = es.search(index=runs_index, size=10)["hits"]["hits"]
    assert [hit["_source"]["outcome"] for hit in dead] == ["running"]
    dead = dead[0]["_source"]
    counted = es.search(index=env["ES_INDEX"], query={"term": {"run_id": dead["run_id"]}}, size=100)["hits"]["hits"]
    assert any(hit["_source"]["label"] == "person" and hit["_source"]["detections"] == 6 for hit in counted)
    assert not es.indices.exists(index=alerts_index)  # nothing checked the rules

    # restarted, the scheduler makes the cut-short run again at once (its yearly schedule has
    # nothing due); that run waits out the dead one's lease, takes the lock over, and checks the
    # dead run's documents against the breaches before it (for its own check, 10:00 had breached)
    scheduler = start_scheduler({**env, "SCHEDULER_CRON": "0 0 1 1 *"})
    try:

        def caught_up():
            es.indices.refresh(index=runs_index)
            hits = es.search(index=runs_index, size=10, query={"term": {"trigger": "catch-up"}})["hits"]["hits"]
            return [hit["_source"] for hit in hits if hit["_source"]["outcome"] != "running"]

        [second] = wait_for(caught_up, "the catch-up run", timeout=600)
    finally:
        assert scheduler.stop() == 0, scheduler.output()[-3000:]
    assert second["outcome"] == "success", second
    assert second["alerts"] == {"rules": 1, "new_breaches": 0, "fired": 0}, second
    assert alerts_in(es, alerts_index) == [(hourly.rule_id, "2026-11-28T10:00:00.000Z", 6)]
    late = es.get(index=runs_index, id=dead["record_id"])["_source"]
    assert late["outcome"] == "abandoned"
    assert {k: late["alerts"][k] for k in ("rules", "new_breaches", "fired")} == {
        "rules": 1,
        "new_breaches": 1,
        "fired": 1,
    }
    assert late["alerts"]["checked_by"] == second["runner"]
    assert "pending" not in late["alerts"]  # checked once


def test_the_schedulers_account_may_not_write_the_counts_or_the_rules(es, pipeline_env, space, alert_space):
    from elasticsearch import AuthorizationException

    from scheduler.settings import SchedulerSettings

    settings = SchedulerSettings.from_env({**pipeline_env, **space.env, **alert_space})
    made = rule("person", "*", "hour", 1)
    with elasticsearch_client(settings.es) as scheduler_es:
        assert scheduler_es.search(index=alert_space["ES_ALERT_RULES_INDEX"])["hits"]["hits"] == []  # reads them
        for index, document in (
            (alert_space["ES_ALERT_RULES_INDEX"], made.to_source(utc_now())),
            (space.env["ES_INDEX"], {"label": "person"}),
        ):
            with pytest.raises(AuthorizationException):
                scheduler_es.index(index=index, id="x", document=document)
