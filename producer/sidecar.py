"""Frames on disk: `<image_id>.jpg` plus a sidecar `<image_id>.json` that carries what the
JPEG itself does not (source, capture time, where it came from).

The JPEG is kept free of metadata so that its bytes, and so its id, depend only on
the picture. The sidecar is written first and the JPEG renamed into place last, so a
listed `.jpg` always has its sidecar.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from pipeline_common.contracts import ContractError
from pipeline_common.timestamps import parse_iso, to_iso

WHAT = "frame sidecar"


@dataclass(frozen=True)
class FrameRecord:
    image_id: str
    source: str
    captured_at: datetime
    capture_origin: str
    original: str  # the file in new_pics it came from, relative to new_pics
    width: int
    height: int
    frame_offset_s: float | None = None  # position in the video, for video frames
    SCHEMA_VERSION = 1

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "schema_version": self.SCHEMA_VERSION,
            "image_id": self.image_id,
            "source": self.source,
            "captured_at": to_iso(self.captured_at),
            "capture_origin": self.capture_origin,
            "original": self.original,
            "width": self.width,
            "height": self.height,
        }
        if self.frame_offset_s is not None:
            data["frame_offset_s"] = round(self.frame_offset_s, 3)
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "FrameRecord":
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ContractError(f"{WHAT}: expected a JSON object")
            if data.get("schema_version") != cls.SCHEMA_VERSION:
                raise ContractError(
                    f"{WHAT}: schema_version {data.get('schema_version')!r}, this code reads 1"
                )
            offset = data.get("frame_offset_s")
            return cls(
                image_id=str(data["image_id"]),
                source=str(data["source"]),
                captured_at=parse_iso(data["captured_at"]),
                capture_origin=str(data["capture_origin"]),
                original=str(data["original"]),
                width=int(data["width"]),
                height=int(data["height"]),
                frame_offset_s=float(offset) if offset is not None else None,
            )
        except ContractError:
            raise
        except json.JSONDecodeError as error:
            raise ContractError(f"{WHAT}: not valid JSON ({error})") from None
        except KeyError as error:
            raise ContractError(f"{WHAT}: missing field {error}") from None
        except (TypeError, ValueError) as error:
            raise ContractError(f"{WHAT}: {error}") from None


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
