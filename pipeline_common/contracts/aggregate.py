"""One line of the aggregation job's `part-*` output, read back by the indexer.

A line is a JSON object: label, source, interval, bucket_start (UTC), the number of
detections of the label and the number of images containing it in that bucket.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import PlainSerializer, PlainValidator, model_validator

from ._model import Record, contract, fail, show
from .errors import ContractError
from .field_types import Count, Name, UtcTime


class Interval(str, Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @classmethod
    def parse(cls, text: Any) -> "Interval":
        if isinstance(text, str):
            try:
                return cls(text)
            except ValueError:
                pass
        allowed = ", ".join(i.value for i in cls)
        raise ContractError(f"interval must be one of {allowed}, got {show(text)}", field="interval")

    @property
    def length(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[self.value]


_INTERVALS = {interval.value: interval for interval in Interval}


def _interval(value: Any) -> Interval:
    # a dict look-up (by exact type, so a str subclass takes the long way): read for every line
    if type(value) is str and value in _INTERVALS:
        return _INTERVALS[value]
    try:
        return Interval.parse(value)
    except ContractError:
        raise fail(f"must be one of {', '.join(i.value for i in Interval)}, got {show(value)}") from None


IntervalName = Annotated[Interval, PlainValidator(_interval), PlainSerializer(lambda i: i.value)]


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """Start of the UTC bucket that holds `moment`."""
    moment = moment.astimezone(timezone.utc)
    if interval is Interval.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if interval is Interval.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@contract
class Aggregate(Record):
    WHAT: ClassVar[str] = "aggregate"
    NOUN: ClassVar[str] = "line"
    SCHEMA_VERSION: ClassVar[int] = 1

    label: Name
    source: Name
    interval: IntervalName
    bucket_start: UtcTime
    detections: Count
    images: Count

    @model_validator(mode="after")
    def _images_within_detections(self) -> "Aggregate":
        if self.images > self.detections:
            raise fail(f"images ({self.images}) exceeds detections ({self.detections})", field="images")
        return self

    def to_line(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_line(cls, line: str | bytes) -> "Aggregate":
        return cls.from_json_bytes(line)
