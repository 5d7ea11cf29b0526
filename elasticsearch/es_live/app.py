"""Wires the live indexer from its settings: clients, index template, loop."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from pipeline_common.alerts import ensure_indices
from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts.live_index import index_pattern
from pipeline_common.kafka import ensure_topic
from pipeline_common.retry import Backoff

from . import index
from .alerts import AlertWatch
from .loop import LiveIndexer, RunLimits, Summary
from .settings import LiveIndexerSettings

log = logging.getLogger(__name__)


def wait_for_template(es: Elasticsearch, prefix: str, stop: threading.Event, backoff: Backoff) -> bool:
    """Put the index template, waiting for Elasticsearch if it is not up yet; False if
    shutdown was requested first. Raises index.Refused on bad credentials."""
    delays = backoff.delays()
    while True:
        try:
            index.ensure_template(es, prefix)
            return True
        except TransportError as error:
            delay = next(delays)
            log.warning("Elasticsearch unreachable (%s); retrying in %.1f s", error, delay)
        if stop.wait(delay):
            return False


def alert_watch(es: Elasticsearch, settings: LiveIndexerSettings) -> AlertWatch | None:
    """The alert rules' watch, after making sure the alerts index exists (the rules index is
    the operators', see es_live.alerts); None, said loudly, when this account may not read
    the rules or record alerts: the counts go on, alerts stay off."""
    watch = AlertWatch(
        es,
        index_pattern(settings.es.live_index_prefix),
        settings.es.alert_rules_index,
        settings.es.alerts_index,
        webhook_url=settings.alerts.webhook_url or None,
        delay_s=settings.alert_delay_s,
    )
    try:
        ensure_indices(es, None, settings.es.alerts_index)
        rules = watch.rules()
    except TransportError as error:  # looked at again with the first images
        log.warning("alert rules not read yet (%s); they are looked up with the first images", error)
        return watch
    except ApiError as error:
        log.error(
            "alerts are off: the live indexer's account may not read %s or write %s (%s); grant them "
            "(cloud-services/local_services/accounts.py, es_roles)",
            settings.es.alert_rules_index,
            settings.es.alerts_index,
            error,
        )
        return None
    log.info(
        "alerts: %d rule(s) in %s; alerts recorded in %s%s",
        len(rules),
        settings.es.alert_rules_index,
        settings.es.alerts_index,
        ", posted to the webhook" if watch.webhook_url else "",
    )
    return watch


def run_live_indexer(settings: LiveIndexerSettings, limits: RunLimits, stop: threading.Event) -> Summary:
    es = elasticsearch_client(settings.es)
    backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
    consumer = producer = None
    try:
        prefix = settings.es.live_index_prefix
        if not wait_for_template(es, prefix, stop, backoff):
            return Summary(stopped_by="shutdown requested")
        # before anything is consumed: a dead-letter topic that cannot exist must not stop
        # the indexer at the first malformed event
        ensure_topic(
            AdminClient(settings.kafka.client_config()),
            settings.dead_letter_topic,
            "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC",
        )
        alerts = alert_watch(es, settings)
        consumer = Consumer(settings.consumer_config())
        producer = Producer(settings.kafka.durable_producer_config())  # dead letters
        indexer = LiveIndexer(
            consumer=consumer,
            es=es,
            producer=producer,
            topic=settings.kafka.detections_topic,
            dead_letter_topic=settings.dead_letter_topic,
            group_id=settings.group_id,
            prefix=prefix,
            retention_days=settings.retention_days,
            stop=stop,
            batch_size=settings.batch_size,
            batch_wait_s=settings.batch_wait_s,
            retention_check_s=settings.retention_check_s,
            backoff=backoff,
            limits=limits,
            alerts=alerts,
        )
        log.info(
            "indexing %s as group %s into %sYYYY.MM.DD (keeping %d day(s); dead letters to %s)",
            settings.kafka.detections_topic,
            settings.group_id,
            prefix,
            settings.retention_days,
            settings.dead_letter_topic,
        )
        started = time.monotonic()
        summary = indexer.run()
        log.info("stopped (%s) after %.0f s", summary.stopped_by, time.monotonic() - started)
        return summary
    finally:
        if consumer is not None:
            consumer.close()  # leaves the group; committed offsets stay
        if producer is not None and producer.flush(10):
            log.warning("some dead letters were not acknowledged before exit; their batch was not committed")
        es.close()
