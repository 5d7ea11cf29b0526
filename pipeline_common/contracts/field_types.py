"""Field types of the contracts: a type, its checks and how it is written, declared once.

Numbers are strict (a boolean or a numeric string is not a number), integers fit in
64 bits (Elasticsearch's `long`, and every JSON reader), floats are finite."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from ..timestamps import parse_iso, to_iso
from ._model import fail, show
from .errors import ContractError
from .s3_layout import IMAGE_ID_PATTERN, S3_URI_PATTERN

MAX_INT64 = 2**63 - 1
# A label or source name: the API takes any name it lists as a filter, up to this long
MAX_NAME_LENGTH = 1000


def utc_time(value: Any) -> datetime:
    """An ISO-8601 string (or an aware datetime) as a UTC datetime; ContractError for
    anything else: text that is not ISO-8601, names no zone, or leaves the years 1-9999
    once converted to UTC."""
    try:
        return _as_utc(value)
    except PydanticCustomError as error:
        raise ContractError(f"time {error.message()}") from None


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise fail(f"must be a time with a zone, got one without a time zone: {value.isoformat()}")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise fail(f"is out of range once converted to UTC, got {value.isoformat()}") from None
    if not isinstance(value, str):
        raise fail(f"must be str (an ISO-8601 time with a zone), got {show(value)}")
    try:
        return parse_iso(value)
    except OverflowError:
        raise fail(f"is out of range once converted to UTC, got {show(value)}") from None
    except ValueError as error:  # not ISO-8601, or without a time zone
        reason = str(error) if len(value) <= 60 else f"got {show(value)}"
        raise fail(f"must be an ISO-8601 time with a zone ({reason})") from None


def _matching(pattern, description: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise fail(f"must be {description}, got {show(value)}")
        return value

    return AfterValidator(check)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail("must not be empty")
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise fail("must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise fail(f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}")
    return value


def _four_integers(value: Any, validate) -> tuple[int, int, int, int]:
    try:
        return validate(value)
    except ValueError:  # pydantic's ValidationError about one of the items
        raise fail(f"must be four integers [x, y, w, h] from 0 to {MAX_INT64}, got {show(value)}") from None


UtcTime = Annotated[datetime, PlainValidator(_as_utc), PlainSerializer(to_iso)]
"""A moment, read from ISO-8601 with a zone, held and written in UTC (milliseconds, `Z`)."""

Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT64)]
"""A size or a count: a whole number from 0 to 2**63 - 1."""

Fraction = Annotated[StrictFloat, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A confidence or a threshold, in [0, 1]."""

Score = Annotated[Fraction, PlainSerializer(lambda v: round(float(v), 4))]
"""A detection's confidence, written with 4 decimals."""

Millis = Annotated[StrictFloat, Field(allow_inf_nan=False), PlainSerializer(lambda v: round(float(v), 2))]
"""A duration in milliseconds, written with 2 decimals."""

Box = Annotated[tuple[Count, Count, Count, Count], WrapValidator(_four_integers)]
"""x, y, width, height in pixels."""

Text = StrictStr
NonBlank = Annotated[StrictStr, AfterValidator(_not_blank)]
Name = Annotated[StrictStr, AfterValidator(_name)]
"""A label or source name: not blank, at most MAX_NAME_LENGTH characters, so that every
name the API lists (/api/labels, /api/sources) is one it accepts as a filter."""
ImageId = Annotated[StrictStr, _matching(IMAGE_ID_PATTERN, "16-64 lowercase hex characters")]
S3Uri = Annotated[StrictStr, _matching(S3_URI_PATTERN, "an s3://bucket/key URI")]
Sha256 = Annotated[StrictStr, _matching(re.compile(r"[0-9a-f]{64}"), "64 lowercase hex digits")]
