"""Local ledgers kept in the frames folder, one JSON object per line (append-only, so a
crash can at worst cut the last line, which is then ignored with a warning).

- `.published.jsonl`: frames whose announcement Kafka acknowledged, per bucket and
  topic. A line is appended only from the delivery report, so a frame uploaded but
  not acknowledged is announced again by the next run.
- `.prepared.jsonl`: originals already turned into frames (by content hash and the
  normalisation settings), so `prepare` does not decode them again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

from pipeline_common.timestamps import to_iso, utc_now

log = logging.getLogger(__name__)

PUBLISHED_FILE = ".published.jsonl"
PREPARED_FILE = ".prepared.jsonl"


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s line %d is not JSON (cut by a crash?); ignored", path, number)
                continue
            if isinstance(entry, dict):
                yield entry
            else:
                log.warning("%s line %d is not a JSON object; ignored", path, number)


def append_line(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
    # one write() of one short line on an O_APPEND file: concurrent writers do not interleave
    with open(path, "a+b") as handle:
        if handle.seek(0, os.SEEK_END) > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = b"\n" + line  # the last line was cut by a crash: do not glue onto it
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


class PublishedLedger:
    """Which image ids Kafka acknowledged for one bucket and topic."""

    def __init__(self, path: Path, bucket: str, topic: str):
        self.path = path
        self.bucket = bucket
        self.topic = topic
        self._acked = {
            entry["image_id"]
            for entry in read_lines(path)
            if entry.get("bucket") == bucket and entry.get("topic") == topic and "image_id" in entry
        }

    @classmethod
    def in_folder(cls, frames_dir: Path, bucket: str, topic: str) -> "PublishedLedger":
        return cls(frames_dir / PUBLISHED_FILE, bucket, topic)

    def __contains__(self, image_id: str) -> bool:
        return image_id in self._acked

    def __len__(self) -> int:
        return len(self._acked)

    def record(self, image_id: str, partition: int, offset: int) -> None:
        if image_id in self._acked:
            return
        append_line(
            self.path,
            {
                "image_id": image_id,
                "bucket": self.bucket,
                "topic": self.topic,
                "partition": partition,
                "offset": offset,
                "acknowledged_at": to_iso(utc_now()),
            },
        )
        self._acked.add(image_id)


class PreparedLedger:
    """Which originals (content hash + settings) already became which frames."""

    def __init__(self, path: Path):
        self.path = path
        self._frames: dict[str, list[str]] = {}
        for entry in read_lines(path):
            if isinstance(entry.get("key"), str) and isinstance(entry.get("frames"), list):
                self._frames[entry["key"]] = [str(f) for f in entry["frames"]]

    @classmethod
    def in_folder(cls, frames_dir: Path) -> "PreparedLedger":
        return cls(frames_dir / PREPARED_FILE)

    def frames_of(self, key: str) -> list[str] | None:
        return self._frames.get(key)

    def record(self, key: str, original: str, frame_ids: list[str]) -> None:
        append_line(
            self.path,
            {"key": key, "original": original, "frames": frame_ids, "prepared_at": to_iso(utc_now())},
        )
        self._frames[key] = list(frame_ids)
