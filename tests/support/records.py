"""Records as the stages pass them, built with defaults a test overrides by name."""
from __future__ import annotations

from datetime import datetime, timezone

from pipeline_common.contracts import ImageAnnouncement, image_key


def announcement(image_id: str, bucket: str, *, key: str | None = None, source: str = "camera-1",
                 moment: datetime | None = None, size: int = 100, width: int = 64,
                 height: int = 48) -> ImageAnnouncement:
    """The producer's announcement of s3://<bucket>/<key> (default: where the producer puts
    `image_id`), captured and uploaded at `moment` (default: now)."""
    moment = moment or datetime.now(timezone.utc)
    return ImageAnnouncement(
        image_id=image_id,
        image_path=f"s3://{bucket}/{key or image_key(image_id)}",
        source=source,
        captured_at=moment,
        uploaded_at=moment,
        size_bytes=size,
        width=width,
        height=height,
    )
