"""The JSON API under /api: validate parameters, plan which store answers which part
of the range (batch index before the newest run's cutoff, live indices after it),
search, merge, reshape."""
from __future__ import annotations

from typing import Any, Callable, Iterable

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
from .params import bucket_count, check_names, parse_query

bp = Blueprint("api", __name__, url_prefix="/api")

RANGE = ("from", "to", "interval")


def _plan(allowed: Iterable[str], **options: bool) -> Plan:
    """The request's query as it will run (params.parse_query validates and plans it: the
    stored interval, the range widened once), split at the newest run's cutoff."""
    app = frontend()
    query = parse_query(
        request.args.to_dict(flat=False),
        allowed=frozenset(allowed),
        now=app.clock(),
        max_buckets=app.settings.max_buckets,
        stored_intervals=app.store.stored_intervals,
        **options,
    )
    stored = query.stored_interval
    return merge.plan(query, stored, app.store.newest_runs(stored), app.settings.batch_lateness)


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


def _counts() -> Counts:
    return Counts(frontend().store)


def _distinct(field: str, narrowed_by: str) -> Callable[[], Response]:
    """/api/labels and /api/sources: the distinct values of one field, alphabetically,
    optionally narrowed by the other field and a range (no default range: all time)."""

    def view() -> Response:
        plan = _plan((*RANGE, narrowed_by), range_defaults=False)
        return _answer({f"{field}s": _counts().distinct(field, plan)}, plan)

    return view


bp.add_url_rule("/labels", "labels", _distinct("label", narrowed_by="source"), methods=["GET"])
bp.add_url_rule("/sources", "sources", _distinct("source", narrowed_by="label"), methods=["GET"])


@bp.get("/totals")
def totals() -> Response:
    plan = _plan((*RANGE, "source", "label", "metric"))
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
    plan = _plan((*RANGE, "source", "metric", "n"))
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
    plan = _plan((*RANGE, "label", "source", "metric", "n"), draws_buckets=True)
    series = _counts().timeline(plan)
    answer = _answer(series, plan)
    answer.headers["X-Buckets"] = str(bucket_count(plan.query.time_range, plan.query.interval))
    return answer


@bp.get("/count_specific")
def count_specific() -> Response:
    """{"label": ..., "count_in_range": N}, the original design's shape (where the count
    comes from is in the X-Final-Until / X-Live headers)."""
    plan = _plan((*RANGE, "label", "source", "metric"), one_label=True)
    _, total, _ = _counts().totals(plan)
    return _answer({"label": plan.query.labels[0], "count_in_range": total}, plan)


@bp.get("/label_counts")
def label_counts() -> Response:
    """{"labels": [...], "counts": [...]}, the original design's shape, biggest first."""
    plan = _plan((*RANGE, "source", "label", "metric"))
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
    check_names(request.args.to_dict(flat=False), frozenset())  # a typo should not look like a passed check
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
