"""Alerts against the real Elasticsearch (the live indexer's own account reads the rules and
records the alerts) and a real HTTP receiver on 127.0.0.1 for the webhook: a rule fires once
per breach, never twice for the same interval, and the receiver gets each alert once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from elasticsearch.helpers import bulk

from es_live.alerts import AlertWatch
from es_live.app import run_live_indexer
from es_live.documents import action
from es_live.index import ensure_template
from es_live.loop import RunLimits
from es_live.settings import LiveIndexerSettings
from pipeline_common.alerts import ensure_indices
from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import DetectionEvent
from pipeline_common.contracts.alerts import rule
from pipeline_common.timestamps import utc_now
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings
from tests.support.webhook import Receiver

from .conftest import drop_live_indices

MINUTE = datetime(2025, 4, 14, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def alert_names(es, es_settings):
    """This test's rules index, alerts index and live indices (in the families the live
    indexer's account is granted), removed afterwards."""
    suffix = uuid.uuid4().hex[:10]
    names = (
        f"{es_settings.alert_rules_index}-it-{suffix}",
        f"{es_settings.alerts_index}-it-{suffix}",
        f"{es_settings.live_index_prefix}it-alerts-{suffix}-",
    )
    ensure_indices(es, names[0], None)  # the rules index is the operators' (the administrator here)
    ensure_template(es, names[2])
    yield names
    es.indices.delete(index=f"{names[0]},{names[1]}", ignore_unavailable=True)
    drop_live_indices(es, names[2])


@pytest.fixture
def live_es(pipeline_env):
    """A client with the live indexer's own account."""
    settings = LiveIndexerSettings.from_env({**pipeline_env, "PIPELINE_DOTENV": "/nonexistent"})
    with elasticsearch_client(settings.es) as client:
        yield client


def add_rule(es, rules_index: str, **fields) -> None:
    made = rule(**fields)
    es.index(index=rules_index, id=made.rule_id, document=made.to_source(utc_now()), refresh="wait_for")


def write_images(es, prefix: str, *images: tuple[datetime, str, dict[str, int]]) -> list[dict]:
    """Live documents as the live indexer writes them; their sources."""
    actions = [
        action(DetectionEvent(uuid.uuid4().hex, source, moment, moment, "yolov4-tiny", counts), prefix, utc_now())
        for moment, source, counts in images
    ]
    ok, errors = bulk(es, actions, refresh="wait_for")
    assert ok == len(actions) and not errors
    return [made["_source"] for made in actions]


def alerts_in(es, index: str) -> list[dict]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, sort=[{"bucket_start": "asc"}])["hits"]["hits"]
    return [hit["_source"] for hit in hits]


def test_a_rule_fires_once_per_breach_and_the_webhook_gets_it(es, live_es, alert_names, api_es_settings):
    rules_index, alerts_index, prefix = alert_names
    add_rule(es, rules_index, label="person", source="cam-a", interval="minute", above=3)
    with Receiver() as receiver:
        ensure_indices(live_es, None, alerts_index)
        watch = AlertWatch(live_es, f"{prefix}*", rules_index, alerts_index, webhook_url=receiver.url)

        def new_images(*images) -> int:
            watch.written(write_images(es, prefix, *images))
            return watch.check(force=True)

        # 2 people in the minute: not above 3
        assert new_images((MINUTE, "cam-a", {"person": 2})) == 0
        # 2 more in the same minute: 4, above 3: fires
        assert new_images((MINUTE + timedelta(seconds=20), "cam-a", {"person": 2, "dog": 1})) == 1
        # more in that minute: the same breach, never a second alert
        assert new_images((MINUTE + timedelta(seconds=40), "cam-a", {"person": 5})) == 0
        # another source, or another label, is not this rule's
        assert new_images((MINUTE, "cam-b", {"person": 9}), (MINUTE, "cam-a", {"dog": 9})) == 0
        # the next minute breaches again: a new alert
        assert new_images((MINUTE + timedelta(minutes=1), "cam-a", {"person": 4})) == 1
        # a restarted indexer (a fresh watch) looking at the same minutes again fires nothing
        again = AlertWatch(live_es, f"{prefix}*", rules_index, alerts_index, webhook_url=receiver.url)
        again.written(
            write_images(
                es, prefix, (MINUTE, "cam-a", {"person": 1}), (MINUTE + timedelta(minutes=1), "cam-a", {"person": 1})
            )
        )
        assert again.check(force=True) == 0

    stored = alerts_in(es, alerts_index)
    assert [(a["bucket_start"], a["count"], a["webhook"]) for a in stored] == [
        ("2025-04-14T09:30:00.000Z", 4, "sent"),
        ("2025-04-14T09:31:00.000Z", 4, "sent"),
    ]
    assert [(m["bucket_start"], m["count"], m["rule"]) for m in receiver.received] == [
        ("2025-04-14T09:30:00.000Z", 4, "person at cam-a above 3 per minute"),
        ("2025-04-14T09:31:00.000Z", 4, "person at cam-a above 3 per minute"),
    ]

    # the dashboard lists them, newest first, with the API's own (read-only) account
    settings = FrontendSettings(elasticsearch=api_es_settings.replace(alerts_index=alerts_index))
    listed = create_app({"FRONTEND_SETTINGS": settings}).test_client().get("/api/alerts")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert [(a["bucket_start"], a["count"], a["rule"]) for a in listed.get_json()["alerts"]] == [
        ("2025-04-14T09:31:00.000Z", 4, "person at cam-a above 3 per minute"),
        ("2025-04-14T09:30:00.000Z", 4, "person at cam-a above 3 per minute"),
    ]


def test_a_failing_webhook_is_recorded_and_not_retried_forever(es, live_es, alert_names):
    rules_index, alerts_index, prefix = alert_names
    add_rule(es, rules_index, label="car", source="*", interval="hour", above=0)
    with Receiver(status=400) as receiver:
        ensure_indices(live_es, None, alerts_index)
        watch = AlertWatch(live_es, f"{prefix}*", rules_index, alerts_index, webhook_url=receiver.url)
        watch.written(write_images(es, prefix, (MINUTE, "cam-z", {"car": 1})))
        assert watch.check(force=True) == 1
    assert len(receiver.received) == 1  # a 400 is the receiver's answer: not asked again
    assert [(a["source"], a["count"], a["webhook"]) for a in alerts_in(es, alerts_index)] == [
        ("*", 1, "failed: HTTP 400")
    ]


def test_the_live_indexer_fires_an_alert_within_a_minute_of_the_images(es, alert_names, live_env, publish):
    rules_index, alerts_index, _ = alert_names
    add_rule(es, rules_index, label="bicycle", source="cam-live", interval="minute", above=2)
    env = {**live_env, "ES_ALERT_RULES_INDEX": rules_index, "ES_ALERTS_INDEX": alerts_index, "ALERT_DELAY_S": "1.5"}
    stop = threading.Event()
    worker = threading.Thread(target=run_live_indexer, args=(LiveIndexerSettings.from_env(env), RunLimits(), stop))
    worker.start()
    try:
        captured = utc_now() - timedelta(minutes=2)
        publish(
            [
                DetectionEvent(uuid.uuid4().hex, "cam-live", captured, captured, "yolov4-tiny", {"bicycle": 2})
                for _ in range(2)
            ]
        )
        deadline = time.monotonic() + 90  # a wait for the outcome, not a timing check (ALERT_DELAY_S is 1.5 s)
        while time.monotonic() < deadline and not (
            es.indices.exists(index=alerts_index) and alerts_in(es, alerts_index)
        ):
            time.sleep(1)
    finally:
        stop.set()
        worker.join(60)
    fired = alerts_in(es, alerts_index)
    assert [(a["label"], a["source"], a["count"], a["webhook"]) for a in fired] == [("bicycle", "cam-live", 4, "off")]
