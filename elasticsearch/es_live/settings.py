"""The live indexer's one frozen settings object, built once in `main` from the
environment and `.env`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from pipeline_common.environment import SettingsError, number
from pipeline_common.metrics import MetricsSettings
from pipeline_common.settings import ElasticsearchSettings, KafkaSettings


@dataclass(frozen=True)
class LiveIndexerSettings:
    es: ElasticsearchSettings
    kafka: KafkaSettings
    group_id: str = "live-indexer"
    dead_letter_topic: str = "detections-dead-letter"
    retention_days: int = 7  # live indices of older capture days are dropped
    batch_size: int = 500  # events per bulk request at most
    batch_wait_s: float = 0.5  # how long one poll waits to fill a batch
    retention_check_s: float = 3600.0
    auto_offset_reset: str = "earliest"
    session_timeout_ms: int = 45_000
    max_poll_interval_ms: int = 900_000
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    metrics: MetricsSettings = MetricsSettings(port=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LiveIndexerSettings":
        settings = cls(
            es=ElasticsearchSettings.from_env(env, account="LIVE"),
            kafka=KafkaSettings.from_env(env, account="LIVE"),
            group_id=env.get("LIVE_CONSUMER_GROUP", "").strip() or "live-indexer",
            metrics=MetricsSettings.from_env(env, "LIVE_METRICS_PORT", 9102),
            dead_letter_topic=env.get("KAFKA_DETECTIONS_DEAD_LETTER_TOPIC", "").strip() or "detections-dead-letter",
            retention_days=number(env, "LIVE_RETENTION_DAYS", 7, int),
            batch_size=number(env, "LIVE_BATCH_SIZE", 500, int),
            batch_wait_s=number(env, "LIVE_BATCH_WAIT_S", 0.5),
            retention_check_s=number(env, "LIVE_RETENTION_CHECK_S", 3600.0),
            auto_offset_reset=env.get("KAFKA_AUTO_OFFSET_RESET", "").strip() or "earliest",
            session_timeout_ms=number(env, "LIVE_SESSION_TIMEOUT_MS", 45_000, int),
            retry_initial_s=number(env, "LIVE_RETRY_INITIAL_S", 0.5),
            retry_max_s=number(env, "LIVE_RETRY_MAX_S", 30.0),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.retention_days < 1:
            raise SettingsError(f"LIVE_RETENTION_DAYS must be at least 1, got {self.retention_days}")
        if not 1 <= self.batch_size <= 10_000:
            raise SettingsError(f"LIVE_BATCH_SIZE must be between 1 and 10000, got {self.batch_size}")
        for name, value in (
            ("LIVE_BATCH_WAIT_S", self.batch_wait_s),
            ("LIVE_RETENTION_CHECK_S", self.retention_check_s),
            ("LIVE_RETRY_INITIAL_S", self.retry_initial_s),
            ("LIVE_RETRY_MAX_S", self.retry_max_s),
        ):
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {value}")
        if self.auto_offset_reset not in {"earliest", "latest"}:
            raise SettingsError(f"KAFKA_AUTO_OFFSET_RESET must be earliest or latest, got {self.auto_offset_reset!r}")
        if self.session_timeout_ms < 6_000:
            raise SettingsError(f"LIVE_SESSION_TIMEOUT_MS must be at least 6000, got {self.session_timeout_ms}")
        if self.dead_letter_topic == self.kafka.detections_topic:
            raise SettingsError("KAFKA_DETECTIONS_DEAD_LETTER_TOPIC must differ from KAFKA_DETECTIONS_TOPIC")

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

    def producer_config(self) -> dict:
        return {**self.kafka.client_config(), "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                "message.timeout.ms": 30_000}
