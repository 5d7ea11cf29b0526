"""The JSON API under /api: validate parameters, build a body, search, reshape."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Blueprint, Response, jsonify, request

from pipeline_common.contracts import batch_runs
from pipeline_common.timestamps import to_iso

from . import queries, results
from .errors import describe_elasticsearch_error
from .extension import frontend
from .params import CountQuery, ParamError, bucket_keys, check_names, parse_query

bp = Blueprint("api", __name__, url_prefix="/api")

RANGE = ("from", "to", "interval")


def _query(allowed: Iterable[str], *, range_defaults: bool = True, draws_buckets: bool = False) -> CountQuery:
    """The request's query as it will run (params.parse_query plans it)."""
    app = frontend()
    return parse_query(
        request.args.to_dict(flat=False),
        allowed=frozenset(allowed),
        now=app.clock(),
        max_buckets=app.settings.max_buckets,
        range_defaults=range_defaults,
        draws_buckets=draws_buckets,
        stored_intervals=app.store.stored_intervals,
    )


def _answer(body: Any, query: CountQuery) -> Response:
    """JSON plus what was actually queried, in headers so no body shape changes."""
    response = jsonify(body)
    if query.time_range is not None:
        response.headers["X-Range-From"] = to_iso(query.time_range.start)
        response.headers["X-Range-To"] = to_iso(query.time_range.end)
    response.headers["X-Interval"] = query.interval.value
    response.headers["X-Stored-Interval"] = query.stored_interval.value
    response.headers["X-Metric"] = query.metric
    return response


def _distinct(field: str, narrowed_by: str) -> Callable[[], Response]:
    """/api/labels and /api/sources: the distinct values of one field, alphabetically,
    optionally narrowed by the other field and a range (no default range: all time)."""

    def view() -> Response:
        query = _query((*RANGE, narrowed_by), range_defaults=False)
        body = queries.distinct_body(field, query.stored_interval, query)
        return _answer({f"{field}s": results.distinct_values(frontend().store.search(body))}, query)

    return view


bp.add_url_rule("/labels", "labels", _distinct("label", narrowed_by="source"), methods=["GET"])
bp.add_url_rule("/sources", "sources", _distinct("source", narrowed_by="label"), methods=["GET"])


@bp.get("/totals")
def totals() -> Response:
    query = _query((*RANGE, "source", "label", "metric"))
    response = frontend().store.search(queries.totals_body(query.stored_interval, query))
    counts = results.label_counts(response)
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "total": results.total(response),
        "totals": [{"label": label, "count": count} for label, count in counts],
        "truncated": results.labels_truncated(response),
    }
    return _answer(body, query)


@bp.get("/top")
def top() -> Response:
    query = _query((*RANGE, "source", "metric", "n"))
    counts = results.label_counts(frontend().store.search(queries.top_body(query.stored_interval, query)))
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "n": query.top,
        "top": [{"label": label, "count": count} for label, count in counts],
    }
    return _answer(body, query)


@bp.get("/timeline")
def timeline() -> Response:
    """{label: [{"t": iso, "y": n}, ...]}, the original design's shape."""
    query = _query((*RANGE, "label", "source", "metric", "n"), draws_buckets=True)
    response = frontend().store.search(queries.timeline_body(query.stored_interval, query))
    keys = bucket_keys(query.time_range, query.interval)
    answer = _answer(results.timeline(response, query.labels, keys), query)
    answer.headers["X-Buckets"] = str(len(keys))
    return answer


@bp.get("/count_specific")
def count_specific() -> Response:
    """{"label": ..., "count_in_range": N}, the original design's shape."""
    query = _query((*RANGE, "label", "source", "metric"))
    if len(query.labels) != 1:
        raise ParamError(f"label: expected exactly one label; got {len(query.labels)}")
    response = frontend().store.search(queries.totals_body(query.stored_interval, query))
    return _answer({"label": query.labels[0], "count_in_range": results.total(response)}, query)


@bp.get("/label_counts")
def label_counts() -> Response:
    """{"labels": [...], "counts": [...]}, the original design's shape, biggest first."""
    query = _query((*RANGE, "source", "label", "metric"))
    counts = results.label_counts(frontend().store.search(queries.totals_body(query.stored_interval, query)))
    return _answer(
        {"labels": [label for label, _ in counts], "counts": [count for _, count in counts]},
        query,
    )


def _batch_runs(app) -> dict[str, Any]:
    """The newest batch run (scheduler record) and the newest successful one, with their age."""
    index, now = app.settings.elasticsearch.runs_index, app.clock()
    found: dict[str, Any] = {"runs_index": index}
    for name, body in (("last_run", batch_runs.last_run_body()),
                       ("last_success", batch_runs.last_run_body(outcomes=(batch_runs.SUCCESS,)))):
        hits = app.store.client.search(index=index, ignore_unavailable=True, **body)["hits"]["hits"]
        found[name] = batch_runs.describe(hits[0]["_source"], now) if hits else None
    return found


@bp.get("/health")
def health() -> tuple[Response, int]:
    """200 when Elasticsearch answers and the index exists, else 503; both say why.
    `batch` reports the last scheduled batch run and its age (informational)."""
    app = frontend()
    check_names(request.args.to_dict(flat=False), frozenset())  # a typo should not look like a passed check
    store = app.store
    body: dict[str, Any] = {"index": store.index, "max_buckets": app.settings.max_buckets}
    try:
        exists = store.index_exists()
        extent = results.extent(store.search(queries.extent_body())) if exists else None
        body["batch"] = _batch_runs(app)
    except (TransportError, ApiError) as error:
        status, message = describe_elasticsearch_error(error)
        reach = "unreachable" if isinstance(error, TransportError) else "answered with an error"
        body.update(status="unavailable", elasticsearch=reach, error=message)
        return jsonify(body), 503
    body["elasticsearch"] = "reachable"
    if extent is None:
        body.update(status="index missing", error=f"index {store.index} does not exist yet: run the indexer")
        return jsonify(body), 503
    body.update(status="ok", **extent)
    return jsonify(body), 200
