"""The archiver's one frozen settings object, built once in `main` from the environment
and `.env`."""

from __future__ import annotations

from pydantic import Field

from pipeline_common.contracts.detection_archive import ARCHIVE_PREFIX
from pipeline_common.environment import Settings
from pipeline_common.metrics import MetricsPort, MetricsSettings
from pipeline_common.settings import (
    ArchivePrefix,
    ArchiverGroup,
    ArchiverKafkaSettings,
    ArchiverS3Settings,
    AutoOffsetReset,
    S3Settings,
)


class ArchiverMetrics(MetricsSettings):
    port: MetricsPort = Field(
        9105, alias="ARCHIVER_METRICS_PORT", description="The detection archiver's Prometheus /metrics port; 0: none."
    )


class ArchiverSettings(Settings):
    s3: ArchiverS3Settings  # its own account: writes under `prefix` only
    kafka: ArchiverKafkaSettings  # its own account; its detections_topic is the one read
    metrics: ArchiverMetrics = Field(default_factory=ArchiverMetrics)
    group_id: ArchiverGroup = "detection-archiver"
    prefix: ArchivePrefix = ARCHIVE_PREFIX
    flush_s: float = Field(
        120.0,
        alias="ARCHIVER_FLUSH_S",
        gt=0,
        le=3600,
        description="A batch is written at the latest this many seconds after its first event (also when the hour "
        "changes, and at ARCHIVER_MAX_RECORDS events); keep it well under FRONTEND_BATCH_LATENESS_S (an image "
        "archived later than that misses the batch run covering its bucket). Longer: fewer, larger files; "
        "`detection-archiver compact` merges each closed hour's files anyway.",
    )
    max_records: int = Field(50_000, alias="ARCHIVER_MAX_RECORDS", ge=1, description="Events per batch file at most.")
    auto_offset_reset: AutoOffsetReset = "earliest"
    session_timeout_ms: int = Field(
        45_000,
        alias="ARCHIVER_SESSION_TIMEOUT_MS",
        ge=6_000,
        description="An archiver that stops heartbeating loses its partitions after this long.",
    )
    retry_initial_s: float = Field(
        0.5, alias="ARCHIVER_RETRY_INITIAL_S", gt=0, description="First wait while S3 is unreachable (seconds)."
    )
    retry_max_s: float = Field(
        30.0, alias="ARCHIVER_RETRY_MAX_S", gt=0, description="Longest wait while S3 is unreachable (seconds)."
    )

    def consumer_config(self) -> dict:
        """Offsets are committed by hand, only once the batch file holding them is in S3."""
        return {
            **self.kafka.client_config(),
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.auto_offset_reset,
            "session.timeout.ms": self.session_timeout_ms,
            # an S3 outage is waited out without losing the partitions
            "max.poll.interval.ms": 900_000,
            "partition.assignment.strategy": "cooperative-sticky",
        }


class BackfillSettings(Settings):
    """`detection-archiver backfill`: the pipeline's S3 account, which reads the metadata."""

    s3: S3Settings
    prefix: ArchivePrefix = ARCHIVE_PREFIX
