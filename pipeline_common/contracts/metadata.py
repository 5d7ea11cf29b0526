"""The record the consumer writes to s3://<bucket>/metadata/<image_id>.json."""
from __future__ import annotations

import json
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from typing import Any

from ..timestamps import to_iso
from . import _fields as f
from .errors import ContractError
from .s3_layout import check_image_id, parse_s3_uri

WHAT = "metadata record"


@dataclass(frozen=True)
class Detection:
    label: str
    class_id: int
    confidence: float
    box: tuple[int, int, int, int]  # x, y, width, height in pixels, clipped to the image

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "class_id": self.class_id,
            "confidence": round(float(self.confidence), 4),
            "box": [int(v) for v in self.box],
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Detection":
        what = f"{WHAT} detection"
        data = f.as_mapping(data, what)
        box = f.field(data, "box", list, what)
        if len(box) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
            raise ContractError(f"{what}: 'box' must be four integers [x, y, w, h], got {box!r}")
        confidence = float(f.field(data, "confidence", (int, float), what))
        if not 0.0 <= confidence <= 1.0:
            raise ContractError(f"{what}: 'confidence' must lie in [0, 1], got {confidence}")
        return cls(
            label=f.field(data, "label", str, what),
            class_id=f.field(data, "class_id", int, what),
            confidence=confidence,
            box=tuple(box),
        )


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a record: its name, the SHA-256 of each of its files (cfg,
    weights, names), the runtime that ran it, and the settings it ran with. Records
    written before files/runtime existed read back with them empty."""

    name: str
    input_size: int
    confidence_threshold: float
    nms_threshold: float
    files_sha256: dict[str, str] = dc_field(default_factory=dict)  # role -> hex digest
    runtime: str = ""  # e.g. "opencv-dnn 4.14.0", "onnxruntime 1.32.0"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_size": self.input_size,
            "confidence_threshold": self.confidence_threshold,
            "nms_threshold": self.nms_threshold,
            "files_sha256": dict(self.files_sha256),
            "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "ModelInfo":
        what = f"{WHAT} model"
        data = f.as_mapping(data, what)
        hashes = f.as_mapping(data.get("files_sha256", {}), f"{what} files_sha256")
        for role, digest in hashes.items():
            if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                raise ContractError(f"{what}: files_sha256[{role!r}] must be 64 lowercase hex digits, got {digest!r}")
        runtime = data.get("runtime", "")
        if not isinstance(runtime, str):
            raise ContractError(f"{what}: field 'runtime' must be str, got {type(runtime).__name__}")
        return cls(
            name=f.field(data, "name", str, what),
            input_size=f.field(data, "input_size", int, what),
            confidence_threshold=float(f.field(data, "confidence_threshold", (int, float), what)),
            nms_threshold=float(f.field(data, "nms_threshold", (int, float), what)),
            files_sha256={str(role): digest for role, digest in hashes.items()},
            runtime=runtime,
        )


@dataclass(frozen=True)
class MetadataRecord:
    image_id: str
    image_path: str
    source: str
    captured_at: datetime
    processed_at: datetime
    model: ModelInfo
    width: int
    height: int
    detections: tuple[Detection, ...] = ()
    timings_ms: dict[str, float] = dc_field(default_factory=dict)
    SCHEMA_VERSION = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.SCHEMA_VERSION,
            "image_id": self.image_id,
            "image_path": self.image_path,
            "source": self.source,
            "captured_at": to_iso(self.captured_at),
            "processed_at": to_iso(self.processed_at),
            "model": self.model.to_dict(),
            "width": self.width,
            "height": self.height,
            "detections": [d.to_dict() for d in self.detections],
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_dict(cls, data: Any) -> "MetadataRecord":
        data = f.as_mapping(data, WHAT)
        f.schema_version(data, cls.SCHEMA_VERSION, WHAT)
        image_id = f.field(data, "image_id", str, WHAT)
        try:
            check_image_id(image_id)
        except ContractError as error:
            raise ContractError(f"{WHAT}: {error}") from None
        image_path = f.field(data, "image_path", str, WHAT)
        parse_s3_uri(image_path)
        timings = f.as_mapping(data.get("timings_ms", {}), f"{WHAT} timings_ms")
        return cls(
            image_id=image_id,
            image_path=image_path,
            source=f.field(data, "source", str, WHAT),
            captured_at=f.time_field(data, "captured_at", WHAT),
            processed_at=f.time_field(data, "processed_at", WHAT),
            model=ModelInfo.from_dict(f.field(data, "model", dict, WHAT)),
            width=f.non_negative(f.field(data, "width", int, WHAT), "width", WHAT),
            height=f.non_negative(f.field(data, "height", int, WHAT), "height", WHAT),
            detections=tuple(
                Detection.from_dict(d) for d in f.field(data, "detections", list, WHAT)
            ),
            timings_ms={str(k): float(v) for k, v in timings.items()},
        )

    @classmethod
    def from_json_bytes(cls, payload: bytes | str) -> "MetadataRecord":
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ContractError(f"{WHAT}: not valid JSON ({error})") from None
        return cls.from_dict(data)
