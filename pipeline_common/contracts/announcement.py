"""The message the producer sends to the images topic for each uploaded image."""

from __future__ import annotations

from typing import ClassVar

from ._model import Record, contract
from .field_types import Count, ImageId, Name, S3Uri, UtcTime


@contract
class ImageAnnouncement(Record):
    WHAT: ClassVar[str] = "image announcement"
    NOUN: ClassVar[str] = "message"
    SCHEMA_VERSION: ClassVar[int] = 1

    image_id: ImageId
    image_path: S3Uri  # s3://bucket/images/<image_id>.jpg, the name the original design used
    source: Name
    captured_at: UtcTime
    uploaded_at: UtcTime
    size_bytes: Count
    width: Count
    height: Count
