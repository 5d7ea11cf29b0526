"""The live indexer's one frozen settings object, built once in `main` from the
environment and `.env`."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipeline_common.alerts import AlertSettings
from pipeline_common.environment import Settings, SettingsError
from pipeline_common.metrics import MetricsPort, MetricsSettings
from pipeline_common.settings import (
    AutoOffsetReset,
    DetectionsDeadLetterTopic,
    LiveElasticsearchSettings,
    LiveGroup,
    LiveKafkaSettings,
)


class LiveMetrics(MetricsSettings):
    port: MetricsPort = Field(
        9102, alias="LIVE_METRICS_PORT", description="The live indexer's Prometheus /metrics port; 0: none."
    )


class LiveIndexerSettings(Settings):
    es: LiveElasticsearchSettings  # its own account; its live_index_prefix names the daily indices written
    kafka: LiveKafkaSettings  # its own account; its detections_topic is the one read
    metrics: LiveMetrics = Field(default_factory=LiveMetrics)
    group_id: LiveGroup = "live-indexer"
    dead_letter_topic: DetectionsDeadLetterTopic = "detections-dead-letter"
    retention_days: int = Field(
        7,
        alias="LIVE_RETENTION_DAYS",
        ge=1,
        description="Capture days kept in the live indices (today included); older indices "
        "are dropped, older events left to the batch view.",
    )
    batch_size: int = Field(
        500, alias="LIVE_BATCH_SIZE", ge=1, le=10_000, description="Events per bulk request at most."
    )
    batch_wait_s: float = Field(
        0.5,
        alias="LIVE_BATCH_WAIT_S",
        gt=0,
        description="How long one poll waits for an event when none is waiting, in seconds (events already "
        "fetched are indexed at once, up to LIVE_BATCH_SIZE per bulk request).",
    )
    retention_check_s: float = Field(
        3600.0,
        alias="LIVE_RETENTION_CHECK_S",
        gt=0,
        description="How often the aged-out indices are looked for, in seconds.",
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings)  # ALERT_WEBHOOK_URL, shared with the scheduler
    alert_delay_s: float = Field(
        2.0,
        alias="ALERT_DELAY_S",
        gt=0,
        le=50,
        description="Seconds between writing a batch and checking the alert rules on its "
        "buckets: the batches written meanwhile are checked together (the check refreshes the live indices first).",
    )
    auto_offset_reset: AutoOffsetReset = "earliest"
    session_timeout_ms: int = Field(
        45_000,
        alias="LIVE_SESSION_TIMEOUT_MS",
        ge=6_000,
        description="A live indexer that stops heartbeating loses its partitions after this long.",
    )
    max_poll_interval_ms: int = 900_000  # a long Elasticsearch outage is waited out without losing the partitions
    retry_initial_s: float = Field(
        0.5,
        alias="LIVE_RETRY_INITIAL_S",
        gt=0,
        description="First wait while Elasticsearch or the broker is unreachable (seconds).",
    )
    retry_max_s: float = Field(
        30.0,
        alias="LIVE_RETRY_MAX_S",
        gt=0,
        description="Longest wait while Elasticsearch or the broker is unreachable (seconds).",
    )

    @model_validator(mode="after")
    def _dead_letters_elsewhere(self) -> LiveIndexerSettings:
        if self.dead_letter_topic == self.kafka.detections_topic:
            raise SettingsError("KAFKA_DETECTIONS_DEAD_LETTER_TOPIC must differ from KAFKA_DETECTIONS_TOPIC")
        return self

    def consumer_config(self) -> dict:
        """At least once: offsets are committed by hand, only after Elasticsearch
        acknowledged every document of a batch (and its dead letters are durable)."""
        return {
            **self.kafka.client_config(),
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.auto_offset_reset,
            "session.timeout.ms": self.session_timeout_ms,
            # a long Elasticsearch outage is waited out without losing the partitions
            "max.poll.interval.ms": self.max_poll_interval_ms,
            "partition.assignment.strategy": "cooperative-sticky",
        }
