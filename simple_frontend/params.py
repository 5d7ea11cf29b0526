"""Validation of the API's query parameters: pure functions, no Flask, no I/O.

Every value a user sends is checked here before it can reach Elasticsearch, and only as
a term value or a parsed date: raw text is never passed on as query syntax. Labels and
sources are names the pipeline stored (a camera's folder name can hold any character), so
any name /api/labels or /api/sources lists is accepted: a term value matches exactly,
`*` or `{"match_all": {}}` included, and means nothing else. A failure raises
`ParamError` saying what was expected and what arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping, Sequence

from pipeline_common.contracts import MAX_NAME_LENGTH, Interval, bucket_start
from pipeline_common.timestamps import MILLISECOND, to_iso, truncate_to_millis

DEFAULT_FROM = "now-24h"
DEFAULT_TO = "now"
DEFAULT_INTERVAL = Interval.HOUR
DEFAULT_TOP = 10
MAX_TOP = 50
MAX_NAMES = 20
METRICS = ("detections", "images")
REPEATABLE = frozenset({"label", "source"})

# `now`, or `now-` followed by an amount and a unit: m(inutes), h(ours), d(ays), w(eeks).
RELATIVE_TIME = re.compile(r"now(?:-(?P<amount>[0-9]{1,6})(?P<unit>[mhdw]))?")
# A calendar date, optionally a time (minutes, seconds, fractions), optionally a zone.
ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
TIME_HELP = (
    "an ISO-8601 time such as 2025-04-14T09:30:00Z (a time without a zone is taken as UTC)"
    " or a relative time: now, now-15m, now-24h, now-7d, now-2w"
)


class ParamError(ValueError):
    """A query parameter is missing, unknown or malformed; the message says which."""


@dataclass(frozen=True)
class TimeRange:
    """Buckets whose start lies in [start, end): both UTC, millisecond precision."""

    start: datetime
    end: datetime

    @property
    def last(self) -> datetime:
        """The last moment in the range (`end` is not)."""
        return self.end - MILLISECOND

    def widened(self, interval: Interval) -> "TimeRange":
        """The range grown to whole buckets of `interval`: a bucket that the range cuts
        is counted whole, in charts and totals alike, instead of silently dropped."""
        return TimeRange(bucket_start(self.start, interval), bucket_start(self.last, interval) + interval.length)


@dataclass(frozen=True)
class CountQuery:
    time_range: TimeRange | None
    interval: Interval
    labels: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    metric: str = "detections"
    top: int = DEFAULT_TOP
    # the interval of the stored documents that answer it (see choose_stored_interval)
    stored_interval: Interval | None = None
    # True when the request named no interval and `choose_interval` picked it
    interval_chosen: bool = False


def choose_stored_interval(requested: Interval, stored: Iterable[Interval]) -> Interval:
    """Which stored documents answer a request for `requested` buckets: those of the same
    interval when stored (fewest documents, exact sums); else the coarsest finer interval
    (its buckets still sum exactly into the requested ones); else the finest coarser one
    (the answer then shows each stored bucket at its start); if nothing is stored, the
    request itself (the answer is empty anyway)."""
    stored = sorted(set(stored), key=lambda interval: interval.length)
    if not stored:
        return requested
    finer = [interval for interval in stored if interval.length <= requested.length]
    return finer[-1] if finer else stored[0]


def choose_interval(time_range: TimeRange, stored: Iterable[Interval], max_buckets: int) -> Interval:
    """The interval of an answer whose request names none: the finest interval that can be
    answered (none finer than the finest stored one) whose buckets over `time_range` fit
    `max_buckets`; when even the coarsest does not fit, the coarsest (a timeline then
    says the range is too long)."""
    stored = sorted(set(stored), key=lambda interval: interval.length)
    candidates = sorted(Interval, key=lambda interval: interval.length)
    if stored:
        candidates = [interval for interval in candidates if interval.length >= stored[0].length]
    for interval in candidates:
        if bucket_count(time_range, interval) <= max_buckets:
            return interval
    return candidates[-1]


def shown(value: str, limit: int = 60) -> str:
    """The received value for an error message, cut short so a huge input stays readable."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def parse_time(text: str, now: datetime, name: str) -> datetime:
    relative = RELATIVE_TIME.fullmatch(text)
    if relative:
        amount, unit = relative.group("amount"), relative.group("unit")
        offset = UNITS[unit] * int(amount) if amount else timedelta(0)
        try:
            return truncate_to_millis(now.astimezone(timezone.utc) - offset)
        except OverflowError:
            raise ParamError(f"{name}: {shown(text)} reaches before year 1") from None
    if ISO_TIME.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            raise ParamError(f"{name}: {shown(text)} is not a real date or time ({error})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            # at millisecond resolution, the bucket arithmetic here is Elasticsearch's
            return truncate_to_millis(moment.astimezone(timezone.utc))
        except OverflowError:
            raise ParamError(f"{name}: {shown(text)} lies outside the years 1 to 9999 in UTC") from None
    raise ParamError(f"{name}: expected {TIME_HELP}; got {shown(text)}")


def parse_range(start: str | None, end: str | None, now: datetime, *, defaults: bool = True) -> TimeRange | None:
    """Without `defaults`, no range at all (None) when neither bound was given."""
    if start is None and end is None and not defaults:
        return None
    begin = parse_time(start if start is not None else DEFAULT_FROM, now, "from")
    finish = parse_time(end if end is not None else DEFAULT_TO, now, "to")
    if begin >= finish:
        raise ParamError(f"from must be earlier than to; got from={begin.isoformat()} to={finish.isoformat()}")
    return TimeRange(begin, finish)


def parse_interval(text: str | None) -> Interval | None:
    """None when no interval was asked for (the query then chooses one)."""
    if text is None:
        return None
    try:
        return Interval(text)
    except ValueError:
        allowed = ", ".join(i.value for i in Interval)
        raise ParamError(f"interval: expected one of {allowed}; got {shown(text)}") from None


def bucket_count(time_range: TimeRange, interval: Interval) -> int:
    """How many histogram buckets Elasticsearch returns for the range with
    `extended_bounds` [start, end - 1 ms] (UTC minutes, hours and days have fixed lengths)."""
    first = bucket_start(time_range.start, interval)
    last = bucket_start(time_range.last, interval)
    return (last - first) // interval.length + 1


def bucket_keys(time_range: TimeRange, interval: Interval) -> list[datetime]:
    """The starts of those buckets; call after `check_bucket_count`."""
    first = bucket_start(time_range.start, interval)
    return [first + i * interval.length for i in range(bucket_count(time_range, interval))]


def check_total_buckets(series: int, time_range: TimeRange, interval: Interval, max_total: int) -> None:
    """A timeline is one histogram per label: labels x buckets must stay under the cap
    (Elasticsearch answers a search over its search.max_buckets with an error)."""
    count = bucket_count(time_range, interval)
    if series * count > max_total:
        raise ParamError(
            f"{series} label(s) x {count} {interval.value} buckets = {series * count} points; at most {max_total}"
            " are allowed: ask for fewer labels (n or label), a coarser interval or a shorter range"
        )


def check_bucket_count(time_range: TimeRange, interval: Interval, max_buckets: int) -> None:
    count = bucket_count(time_range, interval)
    if count > max_buckets:
        coarsest = all(other.length <= interval.length for other in Interval)
        advice = (
            f"choose a shorter range ({interval.value} is the coarsest interval)"
            if coarsest
            else "choose a coarser interval or a shorter range"
        )
        raise ParamError(
            f"the range from {to_iso(time_range.start)} to {to_iso(time_range.end)}"
            f" holds {count} {interval.value} buckets; at most {max_buckets} are allowed: {advice}"
        )


def parse_name(text: str, name: str) -> str:
    """A label or source name, used only as an exact term value."""
    if not text:
        raise ParamError(f"{name}: expected a name (as /api/{name}s lists them); got an empty value")
    if len(text) > MAX_NAME_LENGTH:
        raise ParamError(f"{name}: at most {MAX_NAME_LENGTH} characters; got {len(text)}")
    return text


def parse_names(values: Sequence[str], name: str) -> tuple[str, ...]:
    if len(values) > MAX_NAMES:
        raise ParamError(f"{name}: at most {MAX_NAMES} values; got {len(values)}")
    unique = dict.fromkeys(parse_name(value, name) for value in values)
    return tuple(unique)


def parse_top(text: str | None) -> int:
    if text is None:
        return DEFAULT_TOP
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_TOP:
        raise ParamError(f"n: expected a whole number from 1 to {MAX_TOP}; got {shown(text)}")
    return int(text)


def parse_metric(text: str | None) -> str:
    if text is None:
        return METRICS[0]
    if text not in METRICS:
        raise ParamError(f"metric: expected one of {', '.join(METRICS)}; got {shown(text)}")
    return text


def check_names(args: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ParamError(
            f"unknown parameter {shown(unknown[0])}; this endpoint takes"
            f" {', '.join(sorted(allowed)) or 'no parameters'}"
        )
    for key, values in args.items():
        if key not in REPEATABLE and len(values) > 1:
            raise ParamError(f"{key}: given {len(values)} times; it takes one value")


def parse_query(
    args: Mapping[str, Sequence[str]],
    *,
    allowed: frozenset[str],
    now: datetime,
    max_buckets: int,
    max_total_buckets: int | None = None,
    range_defaults: bool = True,
    draws_buckets: bool = False,
    one_label: bool = False,
    stored_intervals: Callable[[], Iterable[Interval]] = tuple,
) -> CountQuery:
    """The one place a request becomes the query that runs (`args` maps each name to all
    its values). Every parameter is validated first; only then are the stored intervals
    looked up, so a bad request never costs a search.

    The answer's interval is the one asked for, or, when none is, the finest that fits the
    bucket cap (`choose_interval`; without a range: hour); or the stored documents'
    when only coarser ones are stored (an hour's count cannot be split into minutes). The
    range is widened once, to whole buckets of that interval, so totals and a timeline of
    the same parameters always agree. The bucket cap applies where the answer holds one
    entry per bucket (`draws_buckets`), to the buckets asked for, and `max_total_buckets`
    to all of its series together (labels x buckets, as answered); `one_label` asks for
    exactly one label."""
    check_names(args, allowed)

    def one(key: str) -> str | None:
        values = args.get(key)
        return values[0] if values else None

    time_range = parse_range(one("from"), one("to"), now, defaults=range_defaults)
    requested = parse_interval(one("interval"))
    if requested is not None and time_range is not None and draws_buckets:
        check_bucket_count(time_range, requested, max_buckets)
    query = CountQuery(
        time_range=time_range,
        interval=requested or DEFAULT_INTERVAL,
        labels=parse_names(args.get("label", ()), "label"),
        sources=parse_names(args.get("source", ()), "source"),
        metric=parse_metric(one("metric")),
        top=parse_top(one("n")),
    )
    if one_label and len(query.labels) != 1:
        raise ParamError(f"label: expected exactly one label; got {len(query.labels)}")
    available = tuple(stored_intervals())
    chosen = requested is None and time_range is not None
    if chosen:
        budget = max_buckets  # per series; a timeline's series together stay under the total too
        if draws_buckets and max_total_buckets is not None:
            budget = max(1, min(max_buckets, max_total_buckets // (len(query.labels) or query.top)))
        requested = choose_interval(time_range, available, budget)
        if draws_buckets:
            check_bucket_count(time_range, requested, max_buckets)
    requested = requested or DEFAULT_INTERVAL
    stored = choose_stored_interval(requested, available)
    interval = stored if stored.length > requested.length else requested
    if time_range is not None:
        try:
            time_range = time_range.widened(interval)
        except OverflowError:
            raise ParamError(f"to: the range must end before the last {interval.value} of year 9999") from None
        if draws_buckets and max_total_buckets is not None:
            series = len(query.labels) or query.top
            check_total_buckets(series, time_range, interval, max_total_buckets)
    return replace(query, time_range=time_range, interval=interval, stored_interval=stored, interval_chosen=chosen)
