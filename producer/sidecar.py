"""Frames on disk: `<image_id>.jpg` plus a sidecar `<image_id>.json` that carries what the
JPEG itself does not (source, capture time, where it came from).

The JPEG is kept free of metadata so that its bytes, and so its id, depend only on
the picture. The sidecar is written first and the JPEG renamed into place last, so a
listed `.jpg` always has its sidecar.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, ClassVar, Iterator

from pydantic import Field, PlainSerializer, StrictFloat

from pipeline_common.contracts import ContractError, Record, contract
from pipeline_common.contracts.field_types import Count, ImageId, NonBlank, Text, UtcTime

Seconds = Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False), PlainSerializer(lambda v: round(v, 3))]


@contract
class FrameRecord(Record):
    """The sidecar: the fields of the announcement the producer will send, and where
    the frame came from. Declared like the records passed between stages, so a sidecar
    that reads always makes a valid announcement."""

    WHAT: ClassVar[str] = "frame sidecar"
    NOUN: ClassVar[str] = "file"
    SCHEMA_VERSION: ClassVar[int] = 1

    image_id: ImageId
    source: NonBlank
    captured_at: UtcTime
    capture_origin: Text
    original: Text  # the file in new_pics it came from, relative to new_pics
    width: Count
    height: Count
    frame_offset_s: Seconds | None = None  # position in the video, for video frames

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> "FrameRecord":
        return cls.from_json_bytes(text)


def frame_path(frames_dir: Path, image_id: str) -> Path:
    return frames_dir / f"{image_id}.jpg"


def sidecar_path(jpeg: Path) -> Path:
    return jpeg.with_suffix(".json")


def write_frame(frames_dir: Path, jpeg: bytes, record: FrameRecord) -> tuple[Path, bool]:
    """Store a frame; (path, False) when an identical frame is already there, in which
    case its first sidecar (first source, first capture time) is kept."""
    path = frame_path(frames_dir, record.image_id)
    if path.exists() and sidecar_path(path).exists():
        return path, False
    frames_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(sidecar_path(path), record.to_json().encode("utf-8"))
    _atomic_write(path, jpeg)
    return path, True


def read_record(jpeg: Path) -> FrameRecord:
    try:
        text = sidecar_path(jpeg).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(
            f"{jpeg.name} has no sidecar {sidecar_path(jpeg).name}: put originals in new_pics/ "
            "and run `prepare` rather than copying JPEGs into the frames folder"
        ) from None
    return FrameRecord.from_json(text)


def list_frames(frames_dir: Path) -> list[Path]:
    """Frame JPEGs in a stable order (temporary files are hidden and never listed)."""
    if not frames_dir.is_dir():
        return []
    return sorted(p for p in frames_dir.iterdir() if p.suffix == ".jpg" and not p.name.startswith("."))


def _atomic_write(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def iter_records(frames_dir: Path) -> Iterator[tuple[Path, FrameRecord | Exception]]:
    for jpeg in list_frames(frames_dir):
        try:
            yield jpeg, read_record(jpeg)
        except (ContractError, OSError) as error:
            yield jpeg, error
