"""Elasticsearch bodies built from validated parameters, and answers reshaped."""

import json
from datetime import datetime, timezone

import pytest

from pipeline_common.contracts import Interval
from simple_frontend import queries, results
from simple_frontend.params import CountQuery, TimeRange, bucket_keys, choose_stored_interval

UTC = timezone.utc
DAY = TimeRange(datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    "requested, stored, expected",
    [
        (Interval.HOUR, [Interval.MINUTE, Interval.HOUR, Interval.DAY], Interval.HOUR),
        (Interval.DAY, [Interval.MINUTE, Interval.HOUR, Interval.DAY], Interval.DAY),
        (Interval.MINUTE, [Interval.MINUTE, Interval.HOUR, Interval.DAY], Interval.MINUTE),
        (Interval.DAY, [Interval.MINUTE, Interval.HOUR], Interval.HOUR),  # coarsest that nests
        (Interval.HOUR, [Interval.MINUTE, Interval.DAY], Interval.MINUTE),
        (Interval.MINUTE, [Interval.HOUR, Interval.DAY], Interval.HOUR),  # nothing finer stored
        (Interval.DAY, [], Interval.DAY),  # empty index: anything answers "no data"
    ],
)
def test_choose_stored_interval(requested, stored, expected):
    assert choose_stored_interval(requested, stored) is expected


def test_filters_read_one_interval_and_use_terms_only():
    query = CountQuery(DAY, Interval.HOUR, labels=("a OR b", "car"), sources=("cam 1",))
    clauses = queries.filters(Interval.MINUTE, query)
    assert clauses == [
        {"term": {"interval": "minute"}},
        {"range": {"bucket_start": {"gte": "2025-04-01T00:00:00.000Z", "lt": "2025-04-02T00:00:00.000Z"}}},
        {"terms": {"source": ["cam 1"]}},
        {"terms": {"label": ["a OR b", "car"]}},
    ]


def test_no_range_no_range_filter():
    clauses = queries.filters(Interval.HOUR, CountQuery(None, Interval.HOUR))
    assert clauses == [{"term": {"interval": "hour"}}]


@pytest.mark.parametrize(
    "build",
    [
        lambda q: queries.totals_body(Interval.HOUR, q),
        lambda q: queries.totals_body(Interval.HOUR, q, size=q.top),
        lambda q: queries.timeline_body(Interval.HOUR, q),
        lambda q: queries.distinct_body("label", Interval.HOUR, q),
        lambda q: queries.distinct_body("source", Interval.HOUR, q),
    ],
)
def test_no_query_language_anywhere(build):
    body = json.dumps(build(CountQuery(DAY, Interval.HOUR, labels=("car",), sources=("cam",))))
    for forbidden in ("query_string", "simple_query_string", "script", "wildcard", "regexp", "prefix", "fuzzy"):
        assert forbidden not in body
    assert '"size": 0' in body


def test_timeline_histogram_is_zero_filled_over_the_range():
    body = queries.timeline_body(Interval.MINUTE, CountQuery(DAY, Interval.HOUR, labels=("car", "dog")))
    labels = body["aggs"]["labels"]
    assert labels["terms"]["field"] == "label"
    assert labels["terms"]["size"] == 2
    histogram = labels["aggs"]["timeline"]["date_histogram"]
    assert histogram["calendar_interval"] == "1h"
    assert histogram["min_doc_count"] == 0
    assert histogram["extended_bounds"] == {"min": 1743465600000, "max": 1743551999999}
    assert labels["aggs"]["timeline"]["aggs"]["count"] == {"sum": {"field": "detections"}}


def test_timeline_without_labels_takes_the_top_n():
    body = queries.timeline_body(Interval.HOUR, CountQuery(DAY, Interval.DAY, metric="images", top=3))
    terms = body["aggs"]["labels"]["terms"]
    assert terms["size"] == 3
    assert terms["order"][0] == {"count": "desc"}
    assert not any("label" in clause.get("terms", {}) for clause in body["query"]["bool"]["filter"])
    assert body["aggs"]["labels"]["aggs"]["count"] == {"sum": {"field": "images"}}


def test_timeline_needs_a_range():
    with pytest.raises(ValueError):
        queries.timeline_body(Interval.HOUR, CountQuery(None, Interval.HOUR))


def test_distinct_only_for_label_or_source():
    with pytest.raises(ValueError):
        queries.distinct_body("run_id", Interval.HOUR, CountQuery(None, Interval.HOUR))


def hist(keys_and_values):
    return {"buckets": [{"key": k, "doc_count": 1, "count": {"value": float(v)}} for k, v in keys_and_values]}


def test_timeline_result_keeps_the_requested_order_and_fills_missing_labels():
    query = CountQuery(DAY, Interval.DAY, labels=("dog", "car"))
    keys = bucket_keys(DAY, Interval.DAY)
    response = {
        "aggregations": {
            "labels": {
                "buckets": [
                    {"key": "car", "count": {"value": 5.0}, "timeline": hist([(1743465600000, 5)])},
                ]
            }
        }
    }
    series = results.timeline(response, query.labels, keys)
    assert list(series) == ["dog", "car"]
    assert series["car"] == [{"t": "2025-04-01T00:00:00.000Z", "y": 5}]
    assert series["dog"] == [{"t": "2025-04-01T00:00:00.000Z", "y": 0}]


def test_label_counts_and_total():
    response = {
        "aggregations": {
            "labels": {
                "sum_other_doc_count": 0,
                "buckets": [{"key": "person", "count": {"value": 7.0}}, {"key": "car", "count": {"value": 2.0}}],
            },
            "total": {"value": 9.0},
        }
    }
    assert results.label_counts(response) == [("person", 7), ("car", 2)]
    assert results.total(response) == 9
    assert results.total({"aggregations": {"total": {"value": None}}}) == 0
    assert not results.labels_truncated(response)


def test_extent_of_an_empty_index():
    response = {
        "hits": {"total": {"value": 0}},
        "aggregations": {"oldest": {"value": None}, "newest": {"value": None}, "intervals": {"buckets": []}},
    }
    assert results.extent(response) == {
        "documents": 0,
        "oldest_bucket": None,
        "newest_bucket": None,
        "stored_intervals": [],
    }


def test_stored_intervals_finest_first_and_unknown_reported():
    response = {
        "aggregations": {
            "intervals": {"buckets": [{"key": "day"}, {"key": "week"}, {"key": "minute"}, {"key": "hour"}]}
        }
    }
    assert results.stored_intervals(response) == ([Interval.MINUTE, Interval.HOUR, Interval.DAY], ["week"])
