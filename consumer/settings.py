"""The consumer's one frozen settings object, built once in `main` from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pipeline_common.environment import PROJECT_ROOT, SettingsError, number
from pipeline_common.metrics import MetricsSettings
from pipeline_common.settings import KafkaSettings, S3Settings

from .models import DEFAULT_MODEL, MODELS
from .publish import DELIVERY_TIMEOUT_MS

DEFAULT_MODELS_DIR = PROJECT_ROOT / "consumer" / "models"
BACKENDS = ("opencv", "onnxruntime")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DetectorSettings:
    model: str = DEFAULT_MODEL
    models_dir: Path = DEFAULT_MODELS_DIR
    backend: str = "opencv"
    input_size: int = 416
    confidence_threshold: float = 0.25
    nms_threshold: float = 0.45
    threads: int = 1

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise SettingsError(
                f"DETECTOR_MODEL must be one of {', '.join(sorted(MODELS))}, got {self.model!r}"
            )
        if self.backend not in BACKENDS:
            raise SettingsError(f"DETECTOR_BACKEND must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.input_size < 32 or self.input_size % 32:
            raise SettingsError(
                f"DETECTOR_INPUT_SIZE must be a positive multiple of 32, got {self.input_size}"
            )
        for name, value in (
            ("DETECTOR_CONFIDENCE_THRESHOLD", self.confidence_threshold),
            ("DETECTOR_NMS_THRESHOLD", self.nms_threshold),
        ):
            if not 0.0 < value <= 1.0:
                raise SettingsError(f"{name} must lie in (0, 1], got {value}")
        if self.threads < 1:
            raise SettingsError(f"DETECTOR_THREADS must be at least 1, got {self.threads}")


@dataclass(frozen=True)
class ConsumerSettings:
    s3: S3Settings
    kafka: KafkaSettings
    group_id: str
    detector: DetectorSettings
    max_image_pixels: int = 40_000_000
    max_image_bytes: int = 50 * 1024 * 1024
    prefetch: int = 4
    workers: int = 2
    max_poll_interval_ms: int = 900_000
    session_timeout_ms: int = 45_000
    auto_offset_reset: str = "earliest"
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    metrics: MetricsSettings = MetricsSettings(port=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ConsumerSettings":
        threads = number(env, "DETECTOR_THREADS", 0, int) or available_cores()
        settings = cls(
            s3=S3Settings.from_env(env),
            kafka=KafkaSettings.from_env(env, account="CONSUMER"),
            group_id=env.get("KAFKA_CONSUMER_GROUP", "").strip() or "object-detector",
            detector=DetectorSettings(
                model=env.get("DETECTOR_MODEL", "").strip() or DEFAULT_MODEL,
                models_dir=Path(env.get("DETECTOR_MODELS_DIR", "").strip() or DEFAULT_MODELS_DIR),
                backend=env.get("DETECTOR_BACKEND", "").strip() or "opencv",
                input_size=number(env, "DETECTOR_INPUT_SIZE", 416, int),
                confidence_threshold=number(env, "DETECTOR_CONFIDENCE_THRESHOLD", 0.25),
                nms_threshold=number(env, "DETECTOR_NMS_THRESHOLD", 0.45),
                threads=threads,
            ),
            max_image_pixels=number(env, "CONSUMER_MAX_IMAGE_PIXELS", 40_000_000, int),
            max_image_bytes=number(env, "CONSUMER_MAX_IMAGE_BYTES", 50 * 1024 * 1024, int),
            prefetch=number(env, "CONSUMER_PREFETCH", 4, int),
            workers=number(env, "CONSUMER_WORKERS", 2, int),
            max_poll_interval_ms=number(env, "CONSUMER_MAX_POLL_INTERVAL_MS", 900_000, int),
            session_timeout_ms=number(env, "CONSUMER_SESSION_TIMEOUT_MS", 45_000, int),
            auto_offset_reset=env.get("KAFKA_AUTO_OFFSET_RESET", "").strip() or "earliest",
            retry_initial_s=number(env, "CONSUMER_RETRY_INITIAL_S", 0.5),
            retry_max_s=number(env, "CONSUMER_RETRY_MAX_S", 30.0),
            metrics=MetricsSettings.from_env(env, "CONSUMER_METRICS_PORT", 9101),
        )
        settings.check()
        return settings

    def check(self) -> None:
        positive = {
            "CONSUMER_MAX_IMAGE_PIXELS": self.max_image_pixels,
            "CONSUMER_MAX_IMAGE_BYTES": self.max_image_bytes,
            "CONSUMER_PREFETCH": self.prefetch,
            "CONSUMER_WORKERS": self.workers,
            "CONSUMER_RETRY_INITIAL_S": self.retry_initial_s,
            "CONSUMER_RETRY_MAX_S": self.retry_max_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {value}")
        # brokers refuse sessions under 6 s by default (group.min.session.timeout.ms)
        if self.session_timeout_ms < 6_000:
            raise SettingsError(f"CONSUMER_SESSION_TIMEOUT_MS must be at least 6000, got {self.session_timeout_ms}")
        # librdkafka requires the poll interval to be at least the session timeout
        if self.max_poll_interval_ms < max(60_000, self.session_timeout_ms):
            raise SettingsError(
                "CONSUMER_MAX_POLL_INTERVAL_MS must be at least 60000 and the session timeout, "
                f"got {self.max_poll_interval_ms}"
            )
        if self.auto_offset_reset not in {"earliest", "latest"}:
            raise SettingsError(
                f"KAFKA_AUTO_OFFSET_RESET must be earliest or latest, got {self.auto_offset_reset!r}"
            )

    def consumer_config(self) -> dict:
        """librdkafka consumer properties: at-least-once with offsets stored by hand.

        Auto-commit only commits offsets the loop stored explicitly, and the loop stores
        an offset only after the image's metadata is in S3 or its dead letter is acked."""
        return {
            **self.kafka.client_config(),
            "group.id": self.group_id,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "auto.offset.reset": self.auto_offset_reset,
            # A slow image (or a long S3 outage being retried) must not get the consumer
            # thrown out of the group and its partitions reassigned in a loop.
            "max.poll.interval.ms": self.max_poll_interval_ms,
            # how long a crashed consumer's partitions wait before another member takes them
            "session.timeout.ms": self.session_timeout_ms,
            "partition.assignment.strategy": "cooperative-sticky",
        }

    def producer_config(self) -> dict:
        """The producer of dead letters and detection events: idempotent, acks from all replicas."""
        return {
            **self.kafka.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        }
