"""The JSON API under /api: validate parameters, build a body, search, reshape."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Blueprint, Response, jsonify, request

from pipeline_common.contracts import Interval, batch_runs
from pipeline_common.timestamps import to_iso

from . import queries, results
from .errors import describe_elasticsearch_error
from .extension import frontend
from .params import CountQuery, ParamError, bucket_keys, parse_query

bp = Blueprint("api", __name__, url_prefix="/api")

RANGE = ("from", "to", "interval")


def _query(allowed: Iterable[str], *, range_defaults: bool = True, draws_buckets: bool = False) -> CountQuery:
    app = frontend()
    return parse_query(
        request.args.to_dict(flat=False),
        allowed=frozenset(allowed),
        now=app.clock(),
        max_buckets=app.settings.max_buckets,
        range_defaults=range_defaults,
        draws_buckets=draws_buckets,
    )


def _answer(body: Any, query: CountQuery, stored: Interval) -> Response:
    """JSON plus what was actually queried, in headers so no body shape changes."""
    response = jsonify(body)
    if query.time_range is not None:
        response.headers["X-Range-From"] = to_iso(query.time_range.start)
        response.headers["X-Range-To"] = to_iso(query.time_range.end)
    response.headers["X-Interval"] = query.interval.value
    response.headers["X-Stored-Interval"] = stored.value
    response.headers["X-Metric"] = query.metric
    return response


def _resolve(query: CountQuery) -> tuple[CountQuery, Interval]:
    """The query as it will run, and the stored interval it reads. When only coarser
    documents are stored than the interval asked for, the answer uses their interval
    (an hour's count cannot be split into minutes); X-Interval tells the client."""
    stored = frontend().store.stored_interval_for(query.interval)
    if stored.length > query.interval.length:
        try:
            time_range = query.time_range.widened(stored) if query.time_range else None
        except OverflowError:
            raise ParamError(f"to: the range must end before the last {stored.value} of year 9999") from None
        query = replace(query, interval=stored, time_range=time_range)
    return query, stored


@bp.get("/labels")
def labels() -> Response:
    query = _query((*RANGE, "source"), range_defaults=False)
    query, stored = _resolve(query)
    found = results.distinct_values(frontend().store.search(queries.distinct_body("label", stored, query)))
    return _answer({"labels": found}, query, stored)


@bp.get("/sources")
def sources() -> Response:
    query = _query((*RANGE, "label"), range_defaults=False)
    query, stored = _resolve(query)
    found = results.distinct_values(frontend().store.search(queries.distinct_body("source", stored, query)))
    return _answer({"sources": found}, query, stored)


@bp.get("/totals")
def totals() -> Response:
    query = _query((*RANGE, "source", "label", "metric"))
    query, stored = _resolve(query)
    response = frontend().store.search(queries.totals_body(stored, query))
    counts = results.label_counts(response)
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "total": results.total(response),
        "totals": [{"label": label, "count": count} for label, count in counts],
        "truncated": results.labels_truncated(response),
    }
    return _answer(body, query, stored)


@bp.get("/top")
def top() -> Response:
    query = _query((*RANGE, "source", "metric", "n"))
    query, stored = _resolve(query)
    counts = results.label_counts(frontend().store.search(queries.top_body(stored, query)))
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "n": query.top,
        "top": [{"label": label, "count": count} for label, count in counts],
    }
    return _answer(body, query, stored)


@bp.get("/timeline")
def timeline() -> Response:
    """{label: [{"t": iso, "y": n}, ...]}, the original design's shape."""
    query = _query((*RANGE, "label", "source", "metric", "n"), draws_buckets=True)
    query, stored = _resolve(query)
    response = frontend().store.search(queries.timeline_body(stored, query))
    keys = bucket_keys(query.time_range, query.interval)
    answer = _answer(results.timeline(response, query.labels, keys), query, stored)
    answer.headers["X-Buckets"] = str(len(keys))
    return answer


@bp.get("/count_specific")
def count_specific() -> Response:
    """{"label": ..., "count_in_range": N}, the original design's shape."""
    query = _query((*RANGE, "label", "source", "metric"))
    if len(query.labels) != 1:
        raise ParamError(f"label: expected exactly one label; got {len(query.labels)}")
    query, stored = _resolve(query)
    response = frontend().store.search(queries.totals_body(stored, query))
    return _answer({"label": query.labels[0], "count_in_range": results.total(response)}, query, stored)


@bp.get("/label_counts")
def label_counts() -> Response:
    """{"labels": [...], "counts": [...]}, the original design's shape, biggest first."""
    query = _query((*RANGE, "source", "label", "metric"))
    query, stored = _resolve(query)
    counts = results.label_counts(frontend().store.search(queries.totals_body(stored, query)))
    return _answer(
        {"labels": [label for label, _ in counts], "counts": [count for _, count in counts]},
        query,
        stored,
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
    _query(())  # takes no parameters; a typo should not look like a passed check
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
