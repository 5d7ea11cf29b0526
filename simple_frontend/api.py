"""The JSON API under /api: validate parameters, plan which store answers which part
of the range (batch index before the newest run's cutoff, live indices after it),
search, merge, reshape."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Blueprint, Response, jsonify, request

from pipeline_common.contracts import Interval, batch_runs
from pipeline_common.timestamps import to_iso
from pipeline_common.watermark import batch_cutoff

from . import merge, queries, results
from .counts import Counts
from .errors import describe_elasticsearch_error
from .extension import frontend
from .merge import Plan
from .params import CountQuery, ParamError, bucket_count, parse_query

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


def _answer(body: Any, plan: Plan) -> Response:
    """JSON plus what was actually queried, in headers so no body shape changes."""
    query = plan.query
    response = jsonify(body)
    if query.time_range is not None:
        response.headers["X-Range-From"] = to_iso(query.time_range.start)
        response.headers["X-Range-To"] = to_iso(query.time_range.end)
    response.headers["X-Interval"] = query.interval.value
    response.headers["X-Stored-Interval"] = plan.stored.value
    response.headers["X-Metric"] = query.metric
    coverage = plan.coverage()
    response.headers["X-Final-Until"] = coverage["final_until"] or "none"
    response.headers["X-Batch-Run"] = coverage["batch_run"] or "none"
    response.headers["X-Live"] = "true" if coverage["live"] else "false"
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


def _plan(query: CountQuery) -> Plan:
    """Resolve the stored interval, then split the range at the newest run's cutoff."""
    query, stored = _resolve(query)
    app = frontend()
    return merge.plan(query, stored, app.store.newest_runs(stored), app.settings.batch_lateness)


def _counts() -> Counts:
    return Counts(frontend().store)


@bp.get("/labels")
def labels() -> Response:
    plan = _plan(_query((*RANGE, "source"), range_defaults=False))
    return _answer({"labels": _counts().distinct("label", plan)}, plan)


@bp.get("/sources")
def sources() -> Response:
    plan = _plan(_query((*RANGE, "label"), range_defaults=False))
    return _answer({"sources": _counts().distinct("source", plan)}, plan)


@bp.get("/totals")
def totals() -> Response:
    plan = _plan(_query((*RANGE, "source", "label", "metric")))
    counts, total, truncated = _counts().totals(plan)
    query = plan.query
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "total": total,
        "totals": [{"label": label, "count": count} for label, count in counts],
        "truncated": truncated,
        **plan.coverage(),
    }
    return _answer(body, plan)


@bp.get("/top")
def top() -> Response:
    plan = _plan(_query((*RANGE, "source", "metric", "n")))
    query = plan.query
    body = {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "n": query.top,
        "top": [{"label": label, "count": count} for label, count in _counts().top(plan)],
        **plan.coverage(),
    }
    return _answer(body, plan)


@bp.get("/timeline")
def timeline() -> Response:
    """{label: [{"t": iso, "y": n, "state": "final"|"live"}, ...]}, the original design's
    shape with each bucket saying whether it is final."""
    plan = _plan(_query((*RANGE, "label", "source", "metric", "n"), draws_buckets=True))
    series = _counts().timeline(plan)
    answer = _answer(series, plan)
    answer.headers["X-Buckets"] = str(bucket_count(plan.query.time_range, plan.query.interval))
    return answer


@bp.get("/count_specific")
def count_specific() -> Response:
    """{"label": ..., "count_in_range": N}, the original design's shape (where the count
    comes from is in the X-Final-Until / X-Live headers)."""
    query = _query((*RANGE, "label", "source", "metric"))
    if len(query.labels) != 1:
        raise ParamError(f"label: expected exactly one label; got {len(query.labels)}")
    plan = _plan(query)
    _, total, _ = _counts().totals(plan)
    return _answer({"label": query.labels[0], "count_in_range": total}, plan)


@bp.get("/label_counts")
def label_counts() -> Response:
    """{"labels": [...], "counts": [...]}, the original design's shape, biggest first."""
    plan = _plan(_query((*RANGE, "source", "label", "metric")))
    counts, _, _ = _counts().totals(plan)
    return _answer({"labels": [label for label, _ in counts], "counts": [count for _, count in counts]}, plan)


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
    """200 when Elasticsearch answers and holds counts (the batch index, or live
    documents before the first batch run), else 503; both say why. `batch` reports the
    last scheduled batch run and its age (informational); `coverage` where final counts
    end per stored interval; `live` the images in the live indices."""
    app = frontend()
    _query(())  # takes no parameters; a typo should not look like a passed check
    store = app.store
    body: dict[str, Any] = {"index": store.index, "max_buckets": app.settings.max_buckets}
    try:
        exists = store.index_exists()
        extent = results.extent(store.search(queries.extent_body())) if exists else None
        live = results.live_extent(store.search_live(queries.live_extent_body()))
        runs = {interval: store.newest_runs(interval) for interval in store.stored_intervals()} if exists else {}
        body["batch"] = _batch_runs(app)
    except (TransportError, ApiError) as error:
        status, message = describe_elasticsearch_error(error)
        reach = "unreachable" if isinstance(error, TransportError) else "answered with an error"
        body.update(status="unavailable", elasticsearch=reach, error=message)
        return jsonify(body), 503
    body["elasticsearch"] = "reachable"
    body["live"] = {"indices": store.live_pattern, **live}
    body["coverage"] = _batch_coverage(runs, app.settings.batch_lateness)
    if extent is None:
        message = f"index {store.index} does not exist yet: run the aggregation and the indexer"
        if not live["images"]:
            body.update(status="index missing", error=message)
            return jsonify(body), 503
        body.update(status="ok", note=message + "; until then every count is live")
        return jsonify(body), 200
    body.update(status="ok", **extent)
    return jsonify(body), 200


def _batch_coverage(runs: dict[Interval, list[str]], lateness) -> dict[str, Any]:
    """Per stored interval: the run whose watermark is used and where final counts end."""
    coverage = {}
    for interval, newest in runs.items():
        run_id = merge.covering_run(newest)
        cutoff = batch_cutoff(run_id, interval, lateness)
        coverage[interval.value] = {"run_id": run_id, "final_until": to_iso(cutoff) if cutoff else None}
    return coverage
