"""Elasticsearch request bodies built from validated parameters: pure functions.

User input enters only as `term`/`terms` values and as dates already parsed by
`params`; there is no query_string or script anywhere. Every count query of the batch
index reads the documents of ONE stored interval, since the index holds the same
detections once per interval (minute, hour and day) and mixing them would count them
several times.

The same bodies read the live indices (one document per image, its counts per label in a
`nested` list, see pipeline_common/contracts/live_index.py): the aggregations then run
inside a `nested` + `filter` aggregation over the nested fields, and `unwrap` gives the
answer the shape of a batch answer, so one set of result functions reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from pipeline_common.contracts import Interval, live_index
from pipeline_common.timestamps import MILLISECOND, to_epoch_millis, to_iso

from .params import CountQuery, TimeRange


@dataclass(frozen=True)
class Target:
    """Where counts are read and under which field names."""

    time: str
    label: str
    source: str
    metrics: Mapping[str, str]
    nested: str | None = None  # the nested path the aggregations run in

    def field(self, name: str) -> str:
        return {"label": self.label, "source": self.source}[name]


BATCH = Target("bucket_start", "label", "source", {"detections": "detections", "images": "images"})
LIVE = Target(
    live_index.FIELDS["time"],
    live_index.FIELDS["label"],
    live_index.FIELDS["source"],
    {"detections": live_index.FIELDS["detections"], "images": live_index.FIELDS["images"]},
    nested=live_index.NESTED_PATH,
)


@dataclass(frozen=True)
class Window:
    """The part of the time axis one target answers for: [start, end), either open."""

    start: datetime | None
    end: datetime | None

    @classmethod
    def of(cls, time_range: TimeRange | None) -> "Window":
        return cls(None, None) if time_range is None else cls(time_range.start, time_range.end)


# Upper bound on distinct labels or sources listed in one answer (COCO has 80 classes).
MAX_TERMS = 1000
CALENDAR = {Interval.MINUTE: "1m", Interval.HOUR: "1h", Interval.DAY: "1d"}


def range_filter(time_range: TimeRange | Window, field: str = "bucket_start") -> dict[str, Any]:
    bounds = {}
    if time_range.start is not None:
        bounds["gte"] = to_iso(time_range.start)
    if time_range.end is not None:
        bounds["lt"] = to_iso(time_range.end)
    return {"range": {field: bounds}}


def filters(
    stored: Interval | None,
    query: CountQuery,
    *,
    with_labels: bool = True,
    target: Target = BATCH,
    window: Window | None = None,
) -> list[dict[str, Any]]:
    """The filter clauses over `target`'s fields; `window` (default: the query's range)
    bounds the time axis. `stored` is the batch index's interval (None for live)."""
    window = window or Window.of(query.time_range)
    clauses: list[dict[str, Any]] = [{"term": {"interval": stored.value}}] if stored is not None else []
    if window.start is not None or window.end is not None:
        clauses.append(range_filter(window, target.time))
    if query.sources:
        clauses.append({"terms": {target.source: list(query.sources)}})
    if with_labels and query.labels:
        clauses.append({"terms": {target.label: list(query.labels)}})
    return clauses


NESTED_AGG, FILTER_AGG = "live", "in"


def _search(
    clauses: list[dict[str, Any]],
    aggs: dict[str, Any],
    target: Target = BATCH,
    query: CountQuery | None = None,
    window: Window | None = None,
) -> dict[str, Any]:
    if target.nested is None:
        return {
            "size": 0,
            "track_total_hits": False,
            "query": {"bool": {"filter": clauses}},
            "aggs": aggs,
        }
    # Live: the per-image documents are narrowed by their own capture time and source
    # first (so whole daily indices are skipped), then the nested counts are filtered
    # and aggregated.
    root: list[dict[str, Any]] = []
    if window is not None and (window.start is not None or window.end is not None):
        root.append(range_filter(window, "captured_at"))
    if query is not None and query.sources:
        root.append({"terms": {"source": list(query.sources)}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": root}},
        "aggs": {
            NESTED_AGG: {
                "nested": {"path": target.nested},
                "aggs": {FILTER_AGG: {"filter": {"bool": {"filter": clauses}}, "aggs": aggs}},
            }
        },
    }


def unwrap(response: Mapping[str, Any], target: Target) -> Mapping[str, Any]:
    """A live answer in the shape of a batch answer ({"aggregations": {...}})."""
    if target.nested is None:
        return response
    inner = response.get("aggregations", {}).get(NESTED_AGG, {}).get(FILTER_AGG, {})
    return {"aggregations": inner}


def _label_terms(query: CountQuery, size: int, target: Target = BATCH) -> dict[str, Any]:
    return {
        "field": target.label,
        "size": size,
        # Biggest first; ties in a stable, readable order.
        "order": [{"count": "desc"}, {"_key": "asc"}],
    }


def totals_body(
    stored: Interval | None,
    query: CountQuery,
    *,
    target: Target = BATCH,
    window: Window | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """Sum of the metric per label, biggest first, and overall: all labels (or the
    requested ones), or the `size` biggest (/api/top: the query's n; more of each part
    when a batch and a live answer are merged)."""
    window = window or Window.of(query.time_range)
    metric = {"sum": {"field": target.metrics[query.metric]}}
    size = size or (len(query.labels) if query.labels else MAX_TERMS)
    return _search(
        filters(stored, query, target=target, window=window),
        {
            "labels": {"terms": _label_terms(query, size, target), "aggs": {"count": metric}},
            "total": metric,
        },
        target,
        query,
        window,
    )


def timeline_body(
    stored: Interval | None,
    query: CountQuery,
    *,
    target: Target = BATCH,
    window: Window | None = None,
) -> dict[str, Any]:
    """One zero-filled date histogram per label: the requested labels, or else the top
    `query.top` labels of the range. Zero-filled over `window` (default: the range)."""
    time_range = query.time_range
    if time_range is None:
        raise ValueError("a timeline needs a time range")
    window = window or Window.of(time_range)
    if window.start is None or window.end is None:
        raise ValueError("a timeline needs a closed window")
    metric = {"sum": {"field": target.metrics[query.metric]}}
    histogram = {
        "date_histogram": {
            "field": target.time,
            "calendar_interval": CALENDAR[query.interval],
            "time_zone": "UTC",
            # keys come back as the API's own ISO form, saving a conversion per point
            "format": "strict_date_time",
            "min_doc_count": 0,
            # Empty buckets from the start to the end of the range come back as zeros;
            # `max` is inclusive, the range's end is not.
            "extended_bounds": {
                "min": to_epoch_millis(window.start),
                "max": to_epoch_millis(window.end - MILLISECOND),
            },
        },
        "aggs": {"count": metric},
    }
    size = len(query.labels) if query.labels else query.top
    terms = _label_terms(query, size, target)
    return _search(
        filters(stored, query, target=target, window=window),
        {"labels": {"terms": terms, "aggs": {"count": metric, "timeline": histogram}}},
        target,
        query,
        window,
    )


def distinct_body(
    field: str,
    stored: Interval | None,
    query: CountQuery,
    *,
    target: Target = BATCH,
    window: Window | None = None,
) -> dict[str, Any]:
    """Distinct values of `label` or `source`, alphabetically."""
    if field not in ("label", "source"):
        raise ValueError(f"distinct values are listed for label or source, not {field!r}")
    window = window or Window.of(query.time_range)
    return _search(
        filters(stored, query, target=target, window=window),
        {"values": {"terms": {"field": target.field(field), "size": MAX_TERMS, "order": {"_key": "asc"}}}},
        target,
        query,
        window,
    )


# How many of the newest runs per interval are looked at (see results.covering_run).
RUNS_PER_INTERVAL = 2


def stored_intervals_body() -> dict[str, Any]:
    """The intervals in the batch index and, per interval, its newest runs; with the
    documents and their newest indexing time, which tell when the index changed."""
    runs = {"terms": {"field": "run_id", "size": RUNS_PER_INTERVAL, "order": {"_key": "desc"}}}
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "intervals": {"terms": {"field": "interval", "size": 10}, "aggs": {"runs": runs}},
            "indexed": {"max": {"field": "indexed_at"}},
        },
    }


def live_extent_body() -> dict[str, Any]:
    """Images in the live indices, their oldest and newest capture time (for /api/health)
    and newest indexing time (with the images: when the live data changed)."""
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "oldest": {"min": {"field": "captured_at"}},
            "newest": {"max": {"field": "captured_at"}},
            "indexed": {"max": {"field": "indexed_at"}},
        },
    }


def extent_body() -> dict[str, Any]:
    """Oldest and newest bucket and the stored intervals, for /api/health."""
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "oldest": {"min": {"field": "bucket_start"}},
            "newest": {"max": {"field": "bucket_start"}},
            "intervals": {"terms": {"field": "interval", "size": 10}},
        },
    }
