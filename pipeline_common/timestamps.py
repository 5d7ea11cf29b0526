"""UTC timestamps: every time the pipeline writes carries its zone. The one place for
time helpers: now, ISO-8601 text, and the epoch milliseconds Elasticsearch speaks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLISECOND = timedelta(milliseconds=1)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {moment!r}")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 time that names its zone; naive times are refused."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 string, got {type(text).__name__}")
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return moment.astimezone(timezone.utc)


def to_epoch_millis(moment: datetime) -> int:
    # Integer arithmetic: float timestamps can land a millisecond off.
    return (moment - EPOCH) // MILLISECOND


def from_epoch_millis(millis: float) -> datetime:
    # Integer milliseconds: float seconds could print a millisecond off.
    return EPOCH + timedelta(milliseconds=int(millis))


def truncate_to_millis(moment: datetime) -> datetime:
    """Elasticsearch dates have millisecond resolution: the rest dropped up front."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
