"""The consumer's Prometheus metrics (served by pipeline_common.metrics, CONSUMER_METRICS_PORT)."""

from __future__ import annotations

import json
import logging

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

IMAGES_PROCESSED = Counter(
    "pipeline_consumer_images_processed", "Images whose metadata and detection event are durable"
)
IMAGES_DEAD_LETTERED = Counter(
    "pipeline_consumer_images_dead_lettered", "Messages or images sent to the dead-letter topic"
)
DETECTION_SECONDS = Histogram(
    "pipeline_consumer_detection_seconds",
    "Time the detector took per image (inference only)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONSUMER_LAG = Gauge(
    "pipeline_consumer_lag_messages",
    "Messages in the partition after the last one this consumer finished (librdkafka statistics)",
    ["topic", "partition"],
)


def record_stats(stats_json: str) -> None:
    """librdkafka's statistics callback (statistics.interval.ms): the lag per assigned partition."""
    try:
        stats = json.loads(stats_json)
    except ValueError:
        log.debug("unreadable librdkafka statistics")
        return
    for topic, details in stats.get("topics", {}).items():
        for partition, numbers in details.get("partitions", {}).items():
            lag = numbers.get("consumer_lag_stored", numbers.get("consumer_lag", -1))
            if partition == "-1" or lag is None or lag < 0:
                continue  # the internal "unassigned" partition, or not known yet
            CONSUMER_LAG.labels(topic, partition).set(lag)
