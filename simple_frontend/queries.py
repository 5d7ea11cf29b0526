"""Elasticsearch request bodies built from validated parameters: pure functions.

User input enters only as `term`/`terms` values and as dates already parsed by
`params`; there is no query_string or script anywhere. Every count query reads the
documents of ONE stored interval, since the index holds the same detections once per
interval (minute, hour and day) and mixing them would count them several times.
"""
from __future__ import annotations

from typing import Any

from pipeline_common.contracts import Interval
from pipeline_common.timestamps import to_epoch_millis, to_iso

from .params import CountQuery, TimeRange

# Upper bound on distinct labels or sources listed in one answer (COCO has 80 classes).
MAX_TERMS = 1000
CALENDAR = {Interval.MINUTE: "1m", Interval.HOUR: "1h", Interval.DAY: "1d"}


def range_filter(time_range: TimeRange) -> dict[str, Any]:
    return {"range": {"bucket_start": {"gte": to_iso(time_range.start), "lt": to_iso(time_range.end)}}}


def filters(stored: Interval, query: CountQuery, *, with_labels: bool = True) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [{"term": {"interval": stored.value}}]
    if query.time_range is not None:
        clauses.append(range_filter(query.time_range))
    if query.sources:
        clauses.append({"terms": {"source": list(query.sources)}})
    if with_labels and query.labels:
        clauses.append({"terms": {"label": list(query.labels)}})
    return clauses


def _search(clauses: list[dict[str, Any]], aggs: dict[str, Any]) -> dict[str, Any]:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": clauses}},
        "aggs": aggs,
    }


def _label_terms(query: CountQuery, size: int) -> dict[str, Any]:
    return {
        "field": "label",
        "size": size,
        # Biggest first; ties in a stable, readable order.
        "order": [{"count": "desc"}, {"_key": "asc"}],
    }


def totals_body(stored: Interval, query: CountQuery) -> dict[str, Any]:
    """Sum of the metric per label (all labels, or the requested ones) and overall."""
    metric = {"sum": {"field": query.metric}}
    size = len(query.labels) if query.labels else MAX_TERMS
    return _search(
        filters(stored, query),
        {
            "labels": {"terms": _label_terms(query, size), "aggs": {"count": metric}},
            "total": metric,
        },
    )


def top_body(stored: Interval, query: CountQuery) -> dict[str, Any]:
    metric = {"sum": {"field": query.metric}}
    return _search(
        filters(stored, query),
        {"labels": {"terms": _label_terms(query, query.top), "aggs": {"count": metric}}},
    )


def timeline_body(stored: Interval, query: CountQuery) -> dict[str, Any]:
    """One zero-filled date histogram per label: the requested labels, or else the top
    `query.top` labels of the range."""
    time_range = query.time_range
    if time_range is None:
        raise ValueError("a timeline needs a time range")
    metric = {"sum": {"field": query.metric}}
    histogram = {
        "date_histogram": {
            "field": "bucket_start",
            "calendar_interval": CALENDAR[query.interval],
            "time_zone": "UTC",
            # keys come back as the API's own ISO form, saving a conversion per point
            "format": "strict_date_time",
            "min_doc_count": 0,
            # Empty buckets from the start to the end of the range come back as zeros;
            # `max` is inclusive, the range's end is not.
            "extended_bounds": {
                "min": to_epoch_millis(time_range.start),
                "max": to_epoch_millis(time_range.last),
            },
        },
        "aggs": {"count": metric},
    }
    size = len(query.labels) if query.labels else query.top
    terms = _label_terms(query, size)
    return _search(
        filters(stored, query),
        {"labels": {"terms": terms, "aggs": {"count": metric, "timeline": histogram}}},
    )


def distinct_body(field: str, stored: Interval, query: CountQuery) -> dict[str, Any]:
    """Distinct values of `label` or `source`, alphabetically."""
    if field not in ("label", "source"):
        raise ValueError(f"distinct values are listed for label or source, not {field!r}")
    return _search(
        filters(stored, query),
        {"values": {"terms": {"field": field, "size": MAX_TERMS, "order": {"_key": "asc"}}}},
    )


def stored_intervals_body() -> dict[str, Any]:
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {"intervals": {"terms": {"field": "interval", "size": 10}}},
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

