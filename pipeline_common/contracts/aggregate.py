"""One line of the aggregation job's `part-*` output, read back by the indexer.

A line is a JSON object: label, source, interval, bucket_start (UTC), the number of
detections of the label and the number of images containing it in that bucket.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from ..timestamps import to_iso
from . import _fields as f
from .errors import ContractError

WHAT = "aggregate"


class Interval(str, Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @classmethod
    def parse(cls, text: str) -> "Interval":
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(i.value for i in cls)
            raise ContractError(f"interval must be one of {allowed}, got {text!r}") from None

    @property
    def length(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[
            self.value
        ]


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """Start of the UTC bucket that holds `moment`."""
    moment = moment.astimezone(timezone.utc)
    if interval is Interval.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if interval is Interval.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Aggregate:
    label: str
    source: str
    interval: Interval
    bucket_start: datetime
    detections: int
    images: int
    SCHEMA_VERSION = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.SCHEMA_VERSION,
            "label": self.label,
            "source": self.source,
            "interval": self.interval.value,
            "bucket_start": to_iso(self.bucket_start),
            "detections": self.detections,
            "images": self.images,
        }

    def to_line(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> "Aggregate":
        data = f.as_mapping(data, WHAT)
        f.schema_version(data, cls.SCHEMA_VERSION, WHAT)
        detections = f.non_negative(f.field(data, "detections", int, WHAT), "detections", WHAT)
        images = f.non_negative(f.field(data, "images", int, WHAT), "images", WHAT)
        if images > detections:
            raise ContractError(f"{WHAT}: images ({images}) exceeds detections ({detections})")
        try:
            interval = Interval.parse(f.field(data, "interval", str, WHAT))
        except ContractError as error:
            raise ContractError(f"{WHAT}: {error}") from None
        return cls(
            label=f.field(data, "label", str, WHAT),
            source=f.field(data, "source", str, WHAT),
            interval=interval,
            bucket_start=f.time_field(data, "bucket_start", WHAT),
            detections=detections,
            images=images,
        )

    @classmethod
    def from_line(cls, line: str | bytes) -> "Aggregate":
        try:
            data = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ContractError(f"{WHAT}: not valid JSON ({error})") from None
        return cls.from_dict(data)
