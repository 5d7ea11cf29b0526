"""Records as the stages pass them, built with defaults a test overrides by name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline_common.contracts import Detection, ImageAnnouncement, MetadataRecord, ModelInfo, image_key

# The image the contract tests describe.
IMAGE_ID = "0123456789abcdef0123456789abcdef"
CAPTURED = datetime(2026, 11, 28, 10, 15, 30, tzinfo=timezone.utc)


def announcement(
    image_id: str,
    bucket: str,
    *,
    key: str | None = None,
    source: str = "camera-1",
    moment: datetime | None = None,
    uploaded: datetime | None = None,
    size: int = 100,
    width: int = 64,
    height: int = 48,
) -> ImageAnnouncement:
    """The producer's announcement of s3://<bucket>/<key> (default: where the producer puts
    `image_id`), captured at `moment` (default: now) and uploaded then or at `uploaded`."""
    moment = moment or datetime.now(timezone.utc)
    return ImageAnnouncement(
        image_id=image_id,
        image_path=f"s3://{bucket}/{key or image_key(image_id)}",
        source=source,
        captured_at=moment,
        uploaded_at=uploaded or moment,
        size_bytes=size,
        width=width,
        height=height,
    )


def metadata(**changes) -> MetadataRecord:
    """The detector's record of IMAGE_ID from front-door: a dog, found 5 s after capture;
    `changes` replace fields by name."""
    data = dict(
        image_id=IMAGE_ID,
        image_path=f"s3://image-pipeline/images/{IMAGE_ID}.jpg",
        source="front-door",
        captured_at=CAPTURED,
        processed_at=CAPTURED + timedelta(seconds=5),
        model=ModelInfo("yolov4-tiny", 416, 0.25, 0.45, {"weights": "c" * 64}, "opencv-dnn 4.14.0"),
        width=640,
        height=480,
        detections=(Detection("dog", 16, 0.91, (10, 20, 100, 80)),),
        timings_ms={"inference": 24.5},
    )
    data.update(changes)
    return MetadataRecord(**data)
