"""Answers of Elasticsearch turned into the API's JSON shapes: pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from pipeline_common.contracts import Interval
from pipeline_common.timestamps import from_epoch_millis, to_iso


def _count(aggregation: Mapping[str, Any] | None) -> int:
    # A sum of longs comes back as a float (12.0), or null over no documents.
    value = (aggregation or {}).get("value")
    return int(round(value)) if value is not None else 0


def label_counts(response: Mapping[str, Any]) -> list[tuple[str, int]]:
    buckets = response.get("aggregations", {}).get("labels", {}).get("buckets", [])
    return [(bucket["key"], _count(bucket.get("count"))) for bucket in buckets]


def labels_truncated(response: Mapping[str, Any]) -> bool:
    labels = response.get("aggregations", {}).get("labels", {})
    return labels.get("sum_other_doc_count", 0) > 0


def total(response: Mapping[str, Any]) -> int:
    return _count(response.get("aggregations", {}).get("total"))


def distinct_values(response: Mapping[str, Any]) -> list[str]:
    buckets = response.get("aggregations", {}).get("values", {}).get("buckets", [])
    return [bucket["key"] for bucket in buckets]


def _point(point: Mapping[str, Any]) -> dict[str, Any]:
    # `key_as_string` is already UTC ISO-8601 with milliseconds (the query's format)
    moment = point.get("key_as_string") or to_iso(from_epoch_millis(point["key"]))
    return {"t": moment, "y": _count(point.get("count"))}


def timeline(
    response: Mapping[str, Any], requested: Sequence[str], keys: Sequence[datetime]
) -> dict[str, list[dict[str, Any]]]:
    """{label: [{"t": iso, "y": n}, ...]} in the requested order (or Elasticsearch's,
    biggest first, when no label was requested). A requested label without any document
    still gets its series of zeros, over the same bucket `keys`."""
    series: dict[str, list[dict[str, Any]]] = {}
    for bucket in response.get("aggregations", {}).get("labels", {}).get("buckets", []):
        points = bucket.get("timeline", {}).get("buckets", [])
        series[bucket["key"]] = [_point(point) for point in points]
    if not requested:
        return series
    missing = [label for label in requested if label not in series]
    if missing:
        zeros = [{"t": to_iso(key), "y": 0} for key in keys]
        series.update({label: [dict(point) for point in zeros] for label in missing})
    return {label: series[label] for label in requested}


def stored_intervals(response: Mapping[str, Any]) -> tuple[list[Interval], list[str]]:
    """The intervals found in the index, finest first, and any values that are not one."""
    known, unknown = [], []
    for bucket in response.get("aggregations", {}).get("intervals", {}).get("buckets", []):
        try:
            known.append(Interval(bucket["key"]))
        except ValueError:
            unknown.append(bucket["key"])
    return sorted(known, key=lambda interval: interval.length), unknown


def interval_runs(response: Mapping[str, Any]) -> dict[Interval, list[str]]:
    """The newest run ids per stored interval, newest first (see queries.stored_intervals_body)."""
    runs: dict[Interval, list[str]] = {}
    for bucket in response.get("aggregations", {}).get("intervals", {}).get("buckets", []):
        try:
            interval = Interval(bucket["key"])
        except ValueError:
            continue
        runs[interval] = [run["key"] for run in bucket.get("runs", {}).get("buckets", [])]
    return runs


def live_extent(response: Mapping[str, Any]) -> dict[str, Any]:
    aggregations = response.get("aggregations", {})

    def moment(name: str) -> str | None:
        value = aggregations.get(name, {}).get("value")
        return None if value is None else to_iso(from_epoch_millis(value))

    hits = response.get("hits", {}).get("total", {})
    return {
        "images": hits.get("value", 0) if isinstance(hits, Mapping) else int(hits or 0),
        "oldest_capture": moment("oldest"),
        "newest_capture": moment("newest"),
    }


def extent(response: Mapping[str, Any]) -> dict[str, Any]:
    aggregations = response.get("aggregations", {})

    def moment(name: str) -> str | None:
        value = aggregations.get(name, {}).get("value")
        if value is None:
            return None
        return to_iso(from_epoch_millis(value))

    hits = response.get("hits", {}).get("total", {})
    intervals, _ = stored_intervals(response)
    return {
        "documents": hits.get("value", 0) if isinstance(hits, Mapping) else int(hits),
        "oldest_bucket": moment("oldest"),
        "newest_bucket": moment("newest"),
        "stored_intervals": [interval.value for interval in intervals],
    }


def _hits(response: Mapping[str, Any]) -> int:
    hits = response.get("hits", {}).get("total", {})
    return hits.get("value", 0) if isinstance(hits, Mapping) else int(hits or 0)


def generation(batch: Mapping[str, Any], live: Mapping[str, Any]) -> tuple:
    """What tells one state of the data from the next (see queries.stored_intervals_body
    and live_extent_body): the batch documents, their newest indexing time and newest runs
    per interval; the live images and their newest indexing and capture times. Indexing a
    run, pruning an older one and a live image arriving each move it."""
    runs = tuple(sorted((interval.value, tuple(ids)) for interval, ids in interval_runs(batch).items()))

    def value(response: Mapping[str, Any], name: str) -> Any:
        return response.get("aggregations", {}).get(name, {}).get("value")

    return (_hits(batch), value(batch, "indexed"), runs, _hits(live), value(live, "indexed"), value(live, "newest"))
