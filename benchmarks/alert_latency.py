"""Alert latency: seconds from a detection event reaching Kafka to the alert it causes being
recorded, with the real live indexer (`python -m es_live`, its own accounts) checking a
rule "above 0 per minute". Issue 13's goal: within a minute where live data exists.

Events are published at a steady rate (default 1 per second), each captured in a minute of
its own, so each is one new breach and one alert. From each event: when the broker
acknowledged it, when the live indexer indexed it (`indexed_at` of its live document) and
when its alert was recorded (`fired_at`). The baseline, in the same run, is the event ->
live document time (the counts themselves); the alert adds ALERT_DELAY_S (default 2 s,
longer than the live indices' 1 s refresh) and one msearch. The scheduler's check after a
batch run is not measured here: it follows the batch schedule (SCHEDULER_CRON), not live data.

    python -m benchmarks.alert_latency --help
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import ApiError

from benchmarks.common import argument_parser, save_figures, table
from local_services.provision import admin_kafka_config, grant_on, revoke, run_names
from local_services.settings import AccessSettings
from pipeline_common.alerts import ensure_indices
from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import DetectionEvent, serialize_detection_event
from pipeline_common.contracts.alerts import rule
from pipeline_common.environment import PROJECT_ROOT, child_environment, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.settings import ElasticsearchSettings, KafkaAdminSettings
from pipeline_common.timestamps import parse_iso, to_iso, utc_now

log = logging.getLogger("alert_latency")
SOURCE = "bench-gate"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def alert_count(es, index: str) -> int:
    """Alerts recorded so far (0 while the index does not exist or its shard starts)."""
    try:
        es.indices.refresh(index=index)
        return es.count(index=index)["count"]
    except ApiError:
        return 0


def parse_args(argv: list[str] | None):
    parser = argument_parser(__doc__, "alert_latency")
    parser.add_argument("--events", type=int, default=40, help="events, one alert each (default: 40)")
    parser.add_argument("--rate", type=float, default=1.0, help="events per second (default: 1)")
    parser.add_argument("--delay-s", default="2", help="the live indexer's ALERT_DELAY_S (default: 2, its default)")
    parser.add_argument("--timeout", type=float, default=180.0, help="wait this long for the alerts (default: 180)")
    return parser.parse_args(argv)


def publish(env, topic: str, events: list[DetectionEvent], rate: float) -> dict[str, float]:
    """Publish at `rate`, each event acknowledged before the next; its minute (ISO) -> when
    the broker acknowledged it."""
    producer = Producer({**KafkaAdminSettings.from_env(env).client_config(), "linger.ms": 0})
    acknowledged: dict[str, float] = {}
    started = time.monotonic()
    for number, event in enumerate(events):
        wait = started + number / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        producer.produce(topic, value=serialize_detection_event(event), key=event.image_id.encode())
        if producer.flush(30) != 0:
            raise SystemExit(f"Kafka did not acknowledge event {number}")
        acknowledged[to_iso(event.captured_at.replace(second=0, microsecond=0))] = time.time()
    return acknowledged


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    env = read_environment()
    es_settings = ElasticsearchSettings.from_env(env)
    suffix = uuid.uuid4().hex[:8]
    names = {
        **run_names("alert-bench", suffix, es_settings.index, es_settings.live_index_prefix),
        # in the families the live indexer's account is granted
        "ES_ALERT_RULES_INDEX": f"{es_settings.alert_rules_index}-bench-{suffix}",
        "ES_ALERTS_INDEX": f"{es_settings.alerts_index}-bench-{suffix}",
        "ALERT_DELAY_S": args.delay_s,
        "ALERT_WEBHOOK_URL": "",
        "LIVE_METRICS_PORT": "0",
    }
    es = elasticsearch_client(es_settings)
    admin = AdminClient(admin_kafka_config(env))
    acls = grant_on(
        admin,
        AccessSettings.from_env(env),
        detections_topic=names["KAFKA_DETECTIONS_TOPIC"],
        detections_dead_letter_topic=names["KAFKA_DETECTIONS_DEAD_LETTER_TOPIC"],
        live_group=names["LIVE_CONSUMER_GROUP"],
    )
    made = admin.create_topics(
        [NewTopic(names[n], 1, 1) for n in ("KAFKA_DETECTIONS_TOPIC", "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC")]
    )
    for future in made.values():
        future.result(timeout=30)
    ensure_indices(es, names["ES_ALERT_RULES_INDEX"], None)
    above_zero = rule("bicycle", SOURCE, "minute", 0)
    es.index(
        index=names["ES_ALERT_RULES_INDEX"],
        id=above_zero.rule_id,
        document=above_zero.to_source(utc_now()),
        refresh=True,
    )
    work = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    log_file = open(work / "live-indexer.log", "wb")
    live = subprocess.Popen(
        [sys.executable, "-m", "es_live"],
        cwd=PROJECT_ROOT,
        env={**child_environment(), **names},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: dict = {"goal_s": 60.0, "alert_delay_s": float(args.delay_s), "rate_per_s": args.rate}
    try:
        # a warm-up event (its own minute, long ago): the indexer has started, joined its
        # group and loaded the rules once it fires
        now = utc_now().replace(second=30, microsecond=0)
        warm = DetectionEvent(uuid.uuid4().hex, SOURCE, now - timedelta(hours=2), now, "yolov4-tiny", {"bicycle": 1})
        publish(env, names["KAFKA_DETECTIONS_TOPIC"], [warm], 1.0)
        alerts_index = names["ES_ALERTS_INDEX"]
        deadline = time.monotonic() + args.timeout
        while not alert_count(es, alerts_index):
            if time.monotonic() > deadline or live.poll() is not None:
                raise SystemExit(f"the live indexer fired nothing; see {work / 'live-indexer.log'}")
            time.sleep(0.5)
        events = [
            DetectionEvent(uuid.uuid4().hex, SOURCE, now - timedelta(minutes=n + 1), now, "yolov4-tiny", {"bicycle": 1})
            for n in range(args.events)
        ]
        acknowledged = publish(env, names["KAFKA_DETECTIONS_TOPIC"], events, args.rate)
        want = args.events + 1
        while alert_count(es, alerts_index) < want and time.monotonic() < deadline:
            time.sleep(0.5)
        fired = {
            hit["_source"]["bucket_start"]: parse_iso(hit["_source"]["fired_at"]).timestamp()
            for hit in es.search(index=alerts_index, size=10_000)["hits"]["hits"]
        }
        es.indices.refresh(index=f"{names['ES_LIVE_INDEX_PREFIX']}*")
        indexed = {}
        for hit in es.search(index=f"{names['ES_LIVE_INDEX_PREFIX']}*", size=10_000)["hits"]["hits"]:
            minute = parse_iso(hit["_source"]["captured_at"]).replace(second=0, microsecond=0)
            indexed[to_iso(minute)] = parse_iso(hit["_source"]["indexed_at"]).timestamp()
        alert_s = [fired[k] - t for k, t in acknowledged.items() if k in fired]
        live_s = [indexed[k] - t for k, t in acknowledged.items() if k in indexed]
        check_s = [fired[k] - indexed[k] for k in acknowledged if k in fired and k in indexed]

        def figures(values: list[float]) -> dict:
            if not values:
                return {"p50_s": None, "p95_s": None, "max_s": None}
            return {
                "p50_s": round(percentile(values, 0.5), 3),
                "p95_s": round(percentile(values, 0.95), 3),
                "max_s": round(max(values), 3),
            }

        results.update(
            events=args.events,
            alerts=len(alert_s),
            missing=args.events - len(alert_s),
            event_to_alert=figures(alert_s),
            baseline_event_to_live_document=figures(live_s),
            live_document_to_alert=figures(check_s),
            load_average=os.getloadavg(),
        )
    finally:
        if live.poll() is None:
            os.killpg(live.pid, signal.SIGTERM)
            live.wait(60)
        log_file.close()
        for index in es.options(ignore_status=404).indices.get(
            index=f"{names['ES_LIVE_INDEX_PREFIX']}*", allow_no_indices=True
        ):
            es.indices.delete(index=index, ignore_unavailable=True)
        for index in (names["ES_ALERT_RULES_INDEX"], names["ES_ALERTS_INDEX"]):
            es.indices.delete(index=index, ignore_unavailable=True)
        es.close()
        revoke(admin, acls)
        admin.delete_topics(
            [names["KAFKA_DETECTIONS_TOPIC"], names["KAFKA_DETECTIONS_DEAD_LETTER_TOPIC"]], operation_timeout=10
        )
    r = results
    print(f"\nalert latency: event acknowledged by Kafka -> its alert recorded ({r['alerts']} of {r['events']} alerts)")
    print(f"ALERT_DELAY_S {r['alert_delay_s']:g} s, {r['rate_per_s']:g} event/s, goal under {r['goal_s']:g} s")
    rows = [
        [name, str(r[key]["p50_s"]), str(r[key]["p95_s"]), str(r[key]["max_s"])]
        for name, key in (
            ("baseline: event -> live document", "baseline_event_to_live_document"),
            ("live document -> alert", "live_document_to_alert"),
            ("event -> alert", "event_to_alert"),
        )
    ]
    print(table([("", 34), ("p50 s", 8), ("p95 s", 8), ("max s", 8)], rows))
    p50, p95 = r["event_to_alert"]["p50_s"], r["event_to_alert"]["p95_s"]
    if p95 is not None:
        print(f"event -> alert: p95 / goal {p95 / r['goal_s']:.2f}; p50 / ALERT_DELAY_S {p50 / r['alert_delay_s']:.2f}")
    print(f"load average at the end (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in r['load_average'])}")
    save_figures(args.json, results)
    return 0 if r["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
