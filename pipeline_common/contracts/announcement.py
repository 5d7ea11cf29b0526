"""The message the producer sends to the images topic for each uploaded image."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timestamps import to_iso
from . import _fields as f
from .errors import ContractError
from .s3_layout import check_image_id, parse_s3_uri

WHAT = "image announcement"


@dataclass(frozen=True)
class ImageAnnouncement:
    image_id: str
    image_path: str  # s3://bucket/images/<image_id>.jpg, the name the original design used
    source: str
    captured_at: datetime
    uploaded_at: datetime
    size_bytes: int
    width: int
    height: int
    SCHEMA_VERSION = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.SCHEMA_VERSION,
            "image_id": self.image_id,
            "image_path": self.image_path,
            "source": self.source,
            "captured_at": to_iso(self.captured_at),
            "uploaded_at": to_iso(self.uploaded_at),
            "size_bytes": self.size_bytes,
            "width": self.width,
            "height": self.height,
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_dict(cls, data: Any) -> "ImageAnnouncement":
        data = f.as_mapping(data, WHAT)
        f.schema_version(data, cls.SCHEMA_VERSION, WHAT)
        image_id = f.field(data, "image_id", str, WHAT)
        try:
            check_image_id(image_id)
        except ContractError as error:
            raise ContractError(f"{WHAT}: {error}") from None
        image_path = f.field(data, "image_path", str, WHAT)
        parse_s3_uri(image_path)
        source = f.field(data, "source", str, WHAT)
        if not source.strip():
            raise ContractError(f"{WHAT}: field 'source' must not be empty")
        return cls(
            image_id=image_id,
            image_path=image_path,
            source=source,
            captured_at=f.time_field(data, "captured_at", WHAT),
            uploaded_at=f.time_field(data, "uploaded_at", WHAT),
            size_bytes=f.non_negative(f.field(data, "size_bytes", int, WHAT), "size_bytes", WHAT),
            width=f.non_negative(f.field(data, "width", int, WHAT), "width", WHAT),
            height=f.non_negative(f.field(data, "height", int, WHAT), "height", WHAT),
        )

    @classmethod
    def from_json_bytes(cls, payload: bytes | None) -> "ImageAnnouncement":
        if not payload:
            raise ContractError(f"{WHAT}: empty message")
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ContractError(f"{WHAT}: not valid JSON ({error})") from None
        return cls.from_dict(data)
