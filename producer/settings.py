"""The producer's one settings object, built once in `main_producer.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from pipeline_common.contracts import MAX_NAME_LENGTH
from pipeline_common.environment import PROJECT_ROOT, Settings
from pipeline_common.settings import ImagesTopicPartitions, ProducerKafkaSettings, S3Settings

DEFAULT_NEW_PICS = PROJECT_ROOT / "producer" / "new_pics"
DEFAULT_FRAMES = PROJECT_ROOT / "producer" / "extracted_frames"


def _resolved(value):
    return Path(value).expanduser().resolve() if isinstance(value, (str, Path)) else value


Folder = Annotated[Path, BeforeValidator(_resolved)]


class ProducerSettings(Settings):
    # None when the command needs no services (`prepare`: `from_env(without={"s3", "kafka"})`)
    s3: S3Settings | None
    kafka: ProducerKafkaSettings | None  # the producer's own account
    new_pics_dir: Folder = Field(
        DEFAULT_NEW_PICS, alias="PRODUCER_NEW_PICS_DIR", description="Input folder; default producer/new_pics."
    )
    frames_dir: Folder = Field(
        DEFAULT_FRAMES,
        alias="PRODUCER_FRAMES_DIR",
        description="Folder of the normalised frames; default producer/extracted_frames.",
    )
    source: str = Field(
        "",
        alias="PRODUCER_SOURCE",
        max_length=MAX_NAME_LENGTH,
        description="Source name for every file; empty: the file's first sub-folder under "
        "new_pics, else the folder's name.",
    )
    max_side: int = Field(1280, alias="PRODUCER_MAX_SIDE", ge=16, description="Longest side of a frame in pixels.")
    max_image_pixels: int = Field(
        100_000_000,
        alias="PRODUCER_MAX_IMAGE_PIXELS",
        gt=0,
        description="Pictures whose header announces more pixels are refused before decoding (decompression bombs).",
    )
    video_fps: float = Field(
        1.0, alias="PRODUCER_VIDEO_FPS", gt=0, le=120, description="Video frames sampled per second."
    )
    jpeg_quality: int = Field(
        90, alias="PRODUCER_JPEG_QUALITY", ge=1, le=100, description="JPEG quality of the frames."
    )
    topic_partitions: ImagesTopicPartitions = 3
    topic_replication: int = Field(
        1,
        alias="KAFKA_IMAGES_TOPIC_REPLICATION",
        ge=1,
        description="Replication factor of the images topic when the producer creates it.",
    )
    create_topic: bool = Field(
        True,
        alias="PRODUCER_CREATE_TOPIC",
        description="Create the images topic unless it exists (false: the account may not create topics).",
    )
    delivery_timeout_s: float = Field(
        120.0,
        alias="PRODUCER_DELIVERY_TIMEOUT_S",
        gt=0,
        description="How long an announcement may wait for a reachable broker before it counts as failed.",
    )
    watch_settle_s: float = Field(
        0.5,
        alias="PRODUCER_WATCH_SETTLE_S",
        ge=0,
        description="watch: a file counts as complete once unchanged for this long.",
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
