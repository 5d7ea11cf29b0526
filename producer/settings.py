"""The producer's one settings object, built once in `main_producer.py`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pipeline_common.environment import PROJECT_ROOT, SettingsError, flag, number
from pipeline_common.settings import KafkaSettings, S3Settings

DEFAULT_NEW_PICS = PROJECT_ROOT / "producer" / "new_pics"
DEFAULT_FRAMES = PROJECT_ROOT / "producer" / "extracted_frames"


@dataclass(frozen=True)
class ProducerSettings:
    # None when the command needs no services (`prepare`)
    s3: S3Settings | None
    kafka: KafkaSettings | None
    new_pics_dir: Path = DEFAULT_NEW_PICS
    frames_dir: Path = DEFAULT_FRAMES
    # Empty: a file's source is the name of its first sub-folder under new_pics_dir,
    # or the name of new_pics_dir itself (see producer/README.md).
    source: str = ""
    max_side: int = 1280
    video_fps: float = 1.0
    jpeg_quality: int = 90
    topic_partitions: int = 3
    topic_replication: int = 1
    create_topic: bool = True
    delivery_timeout_s: float = 120.0
    watch_settle_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_side < 16:
            raise SettingsError(f"PRODUCER_MAX_SIDE must be at least 16 pixels, got {self.max_side}")
        if not 0 < self.video_fps <= 120:
            raise SettingsError(f"PRODUCER_VIDEO_FPS must lie in (0, 120], got {self.video_fps}")
        if not 1 <= self.jpeg_quality <= 100:
            raise SettingsError(f"PRODUCER_JPEG_QUALITY must lie in [1, 100], got {self.jpeg_quality}")
        if self.topic_partitions < 1 or self.topic_replication < 1:
            raise SettingsError("KAFKA_IMAGES_TOPIC_PARTITIONS and _REPLICATION must be at least 1")
        if self.delivery_timeout_s <= 0 or self.watch_settle_s < 0:
            raise SettingsError("PRODUCER_DELIVERY_TIMEOUT_S must be positive, PRODUCER_WATCH_SETTLE_S not negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str], services: bool = True) -> "ProducerSettings":
        """`services=False` skips the S3 and Kafka settings, so preparing frames
        works without any credentials."""
        return cls(
            s3=S3Settings.from_env(env) if services else None,
            kafka=KafkaSettings.from_env(env, account="PRODUCER") if services else None,
            new_pics_dir=_path(env, "PRODUCER_NEW_PICS_DIR", DEFAULT_NEW_PICS),
            frames_dir=_path(env, "PRODUCER_FRAMES_DIR", DEFAULT_FRAMES),
            source=env.get("PRODUCER_SOURCE", "").strip(),
            max_side=number(env, "PRODUCER_MAX_SIDE", 1280, int),
            video_fps=number(env, "PRODUCER_VIDEO_FPS", 1.0, float),
            jpeg_quality=number(env, "PRODUCER_JPEG_QUALITY", 90, int),
            topic_partitions=number(env, "KAFKA_IMAGES_TOPIC_PARTITIONS", 3, int),
            topic_replication=number(env, "KAFKA_IMAGES_TOPIC_REPLICATION", 1, int),
            create_topic=flag(env, "PRODUCER_CREATE_TOPIC", True),
            delivery_timeout_s=number(env, "PRODUCER_DELIVERY_TIMEOUT_S", 120.0, float),
            watch_settle_s=number(env, "PRODUCER_WATCH_SETTLE_S", 0.5, float),
        )

    def source_for(self, original: Path) -> str:
        """Which source (camera, album) a file in new_pics_dir belongs to."""
        if self.source:
            return self.source
        try:
            parts = original.resolve().relative_to(self.new_pics_dir.resolve()).parts
        except ValueError:
            parts = ()
        return parts[0] if len(parts) > 1 else self.new_pics_dir.resolve().name


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else default
