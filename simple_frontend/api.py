"""The JSON API under /api: validate parameters, plan which store answers which part
of the range (batch index before the newest run's cutoff, live indices after it),
search, merge, reshape."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Blueprint, Response, g, jsonify, request

from pipeline_common.contracts import Interval, batch_runs
from pipeline_common.timestamps import to_iso
from pipeline_common.watermark import batch_cutoff

from . import merge, queries, results
from .cache import request_key
from .counts import Counts
from .errors import describe_elasticsearch_error
from .export import csv_response, parse_format, timeline_csv, totals_csv
from .extension import frontend
from .merge import Plan
from .params import ParamError, bucket_count, check_names, parse_query, shown
from .store import Snapshot

bp = Blueprint("api", __name__, url_prefix="/api")

RANGE = ("from", "to", "interval")


def _plan(allowed: Iterable[str], **options: bool) -> Plan:
    """The request's query as it will run (params.parse_query validates and plans it: the
    stored interval, the range widened once), split at the newest run's cutoff. The stored
    intervals, runs and the data's generation come from one snapshot of the store, looked
    up only once the parameters are valid; the generation is kept in `g` for `_cached`."""
    app = frontend()
    seen: list[Snapshot] = []

    def stored_intervals() -> tuple[Interval, ...]:
        seen.append(app.store.snapshot())
        return seen[-1].intervals

    query = parse_query(
        request.args.to_dict(flat=False),
        allowed=frozenset(allowed),
        now=app.clock(),
        max_buckets=app.settings.max_buckets,
        max_total_buckets=app.settings.max_total_buckets,
        stored_intervals=stored_intervals,
        **options,
    )
    snapshot = seen[-1] if seen else app.store.snapshot()
    g.generation = snapshot.generation
    stored = query.stored_interval
    return merge.plan(query, stored, list(snapshot.runs.get(stored, [])), app.settings.batch_lateness)


def _cached(plan: Plan, build: Callable[[], Response], form: str = "json") -> Response:
    """The answer to this endpoint, plan and format at the data's current generation: from
    the cache while the generation stands, else built (and kept)."""
    app = frontend()
    key = (request.endpoint, form, plan, g.generation)
    # also filed under the request as it arrived, for cache.RepeatedRequests
    repeat = request_key(request.path, request.query_string, app.minute(), g.generation)
    return app.answers.answer(key, build, repeat=(repeat, request.url_rule.rule))


def _answer(body: Any, plan: Plan) -> Response:
    """JSON (or an already made response, such as CSV) plus what was actually queried, in
    headers so no body shape changes."""
    query = plan.query
    response = body if isinstance(body, Response) else jsonify(body)
    if query.time_range is not None:
        response.headers["X-Range-From"] = to_iso(query.time_range.start)
        response.headers["X-Range-To"] = to_iso(query.time_range.end)
    response.headers["X-Interval"] = query.interval.value
    # "true": the request named no interval and the API chose X-Interval (params.choose_interval)
    response.headers["X-Interval-Chosen"] = "true" if query.interval_chosen else "false"
    response.headers["X-Stored-Interval"] = plan.stored.value
    response.headers["X-Metric"] = query.metric
    coverage = plan.coverage()
    response.headers["X-Final-Until"] = coverage["final_until"] or "none"
    response.headers["X-Batch-Run"] = coverage["batch_run"] or "none"
    response.headers["X-Live"] = "true" if coverage["live"] else "false"
    return response


def _counted_over(plan: Plan) -> dict[str, Any]:
    """What a body of counts says about what was counted: the range, the metric, the
    interval (and whether the API chose it), and which part is final or live."""
    query = plan.query
    return {
        "from": to_iso(query.time_range.start),
        "to": to_iso(query.time_range.end),
        "metric": query.metric,
        "interval": query.interval.value,
        "interval_chosen": query.interval_chosen,
        **plan.coverage(),
    }


def _counts() -> Counts:
    return Counts(frontend().store)


def _distinct(field: str, narrowed_by: str) -> Callable[[], Response]:
    """/api/labels and /api/sources: the distinct values of one field, alphabetically,
    optionally narrowed by the other field and a range (no default range: all time)."""

    def view() -> Response:
        plan = _plan((*RANGE, narrowed_by), range_defaults=False)
        return _cached(plan, lambda: _answer({f"{field}s": _counts().distinct(field, plan)}, plan))

    return view


bp.add_url_rule("/labels", "labels", _distinct("label", narrowed_by="source"), methods=["GET"])
bp.add_url_rule("/sources", "sources", _distinct("source", narrowed_by="label"), methods=["GET"])


@bp.get("/totals")
def totals() -> Response:
    form = parse_format(request.args.get("format"))
    plan = _plan((*RANGE, "source", "label", "metric", "format"))
    return _cached(plan, lambda: _totals(plan, form), form)


def _totals(plan: Plan, form: str) -> Response:
    counts, total, truncated = _counts().totals(plan)
    if form == "csv":
        return _answer(csv_response(totals_csv(counts), _file_name("totals", plan)), plan)
    body = {
        **_counted_over(plan),
        "total": total,
        "totals": [{"label": label, "count": count} for label, count in counts],
        "truncated": truncated,
    }
    return _answer(body, plan)


@bp.get("/top")
def top() -> Response:
    plan = _plan((*RANGE, "source", "metric", "n"))
    return _cached(plan, lambda: _top(plan))


def _top(plan: Plan) -> Response:
    body = {
        **_counted_over(plan),
        "n": plan.query.top,
        "top": [{"label": label, "count": count} for label, count in _counts().top(plan)],
    }
    return _answer(body, plan)


@bp.get("/timeline")
def timeline() -> Response:
    """{label: [{"t": iso, "y": n, "state": "final"|"live"}, ...]}, the original design's
    shape with each bucket saying whether it is final."""
    form = parse_format(request.args.get("format"))
    plan = _plan((*RANGE, "label", "source", "metric", "n", "format"), draws_buckets=True)
    return _cached(plan, lambda: _timeline(plan, form), form)


def _timeline(plan: Plan, form: str) -> Response:
    series = _counts().timeline(plan)
    if form == "csv":
        answer = _answer(csv_response(timeline_csv(series), _file_name("timeline", plan)), plan)
    else:
        answer = _answer(series, plan)
    answer.headers["X-Buckets"] = str(bucket_count(plan.query.time_range, plan.query.interval))
    return answer


def _file_name(what: str, plan: Plan) -> str:
    """counts-timeline-20250414T0800Z-20250414T1200Z-hour: what, the range and the interval."""
    query = plan.query

    def stamp(moment) -> str:
        return moment.strftime("%Y%m%dT%H%MZ")

    return f"counts-{what}-{stamp(query.time_range.start)}-{stamp(query.time_range.end)}-{query.interval.value}"


@bp.get("/count_specific")
def count_specific() -> Response:
    """{"label": ..., "count_in_range": N}, the original design's shape (where the count
    comes from is in the X-Final-Until / X-Live headers)."""
    plan = _plan((*RANGE, "label", "source", "metric"), one_label=True)

    def build() -> Response:
        _, total, _ = _counts().totals(plan)
        return _answer({"label": plan.query.labels[0], "count_in_range": total}, plan)

    return _cached(plan, build)


@bp.get("/label_counts")
def label_counts() -> Response:
    """{"labels": [...], "counts": [...]}, the original design's shape, biggest first."""
    plan = _plan((*RANGE, "source", "label", "metric"))

    def build() -> Response:
        counts, _, _ = _counts().totals(plan)
        return _answer({"labels": [label for label, _ in counts], "counts": [count for _, count in counts]}, plan)

    return _cached(plan, build)


def _batch_runs(app) -> dict[str, Any]:
    """The newest batch run (scheduler record) and the newest successful one, with their age."""
    index, now = app.settings.elasticsearch.runs_index, app.clock()
    found: dict[str, Any] = {"runs_index": index}
    for name, body in (
        ("last_run", batch_runs.last_run_body()),
        ("last_success", batch_runs.last_run_body(outcomes=(batch_runs.SUCCESS,))),
    ):
        hits = app.store.client.search(index=index, ignore_unavailable=True, **body)["hits"]["hits"]
        found[name] = batch_runs.describe(hits[0]["_source"], now) if hits else None
    return found


@bp.get("/health")
def health() -> Response:
    """200 when Elasticsearch answers and holds counts (the batch index, or live
    documents before the first batch run), else 503; both say why. `batch` reports the
    last scheduled batch run and its age (informational); `coverage` where final counts
    end per stored interval; `live` the images in the live indices. The answer is reused
    for FRONTEND_CACHE_MAX_STALENESS_S (`checked_at` says when it was made), so probes
    and dashboards polling it cost no cluster round trip per call."""
    app = frontend()
    check_names(request.args.to_dict(flat=False), frozenset())  # a typo should not look like a passed check
    return app.health.answer(lambda: _health(app))


def _health(app) -> Response:
    store = app.store
    body: dict[str, Any] = {
        "index": store.index,
        "max_buckets": app.settings.max_buckets,
        "checked_at": to_iso(app.clock()),
    }
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
        return _json(body, 503)
    body["elasticsearch"] = "reachable"
    body["live"] = {"indices": store.live_pattern, **live}
    body["coverage"] = _batch_coverage(runs, app.settings.batch_lateness)
    if extent is None:
        message = f"index {store.index} does not exist yet: run the aggregation and the indexer"
        if not live["images"]:
            body.update(status="index missing", error=message)
            return _json(body, 503)
        body.update(status="ok", note=message + "; until then every count is live")
        return _json(body, 200)
    body.update(status="ok", **extent)
    return _json(body, 200)


def _json(body: Any, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _batch_coverage(runs: dict[Interval, list[str]], lateness) -> dict[str, Any]:
    """Per stored interval: the run whose watermark is used and where final counts end."""
    coverage = {}
    for interval, newest in runs.items():
        run_id = merge.covering_run(newest)
        cutoff = batch_cutoff(run_id, interval, lateness)
        coverage[interval.value] = {"run_id": run_id, "final_until": to_iso(cutoff) if cutoff else None}
    return coverage


MAX_ALERTS = 100


@bp.get("/alerts")
def alerts() -> Response:
    """The alerts fired (pipeline_common/contracts/alerts.py), newest bucket first:
    {"alerts": [{"label", "source", "interval", "above", "bucket_start", "count", "fired_at",
    "webhook", "rule"}...]}. `limit` 1-100 (default 20)."""
    app = frontend()
    args = request.args.to_dict(flat=False)
    check_names(args, frozenset({"limit"}))
    limit = parse_limit(request.args.get("limit"))
    index = app.settings.elasticsearch.alerts_index
    response = app.store.client.search(
        index=index,
        ignore_unavailable=True,
        size=limit,
        sort=[{"bucket_start": "desc"}, {"fired_at": "desc"}],
        query={"match_all": {}},
    )
    found = [alert_view(hit["_source"]) for hit in response["hits"]["hits"]]
    return jsonify({"index": index, "alerts": found})


def parse_limit(text: str | None) -> int:
    if text is None:
        return 20
    # ASCII digits only, and few: int() takes "²" for a digit it cannot read, and refuses
    # thousands of digits (both were a 500)
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or not 1 <= int(text) <= MAX_ALERTS:
        raise ParamError(f"limit: expected a whole number from 1 to {MAX_ALERTS}; got {shown(text)}")
    return int(text)


def alert_view(source: dict[str, Any]) -> dict[str, Any]:
    where = "any source" if source.get("source") == "*" else source.get("source")
    return {
        **{
            key: source.get(key)
            for key in ("label", "source", "interval", "above", "bucket_start", "count", "fired_at", "webhook")
        },
        "rule": f"{source.get('label')} at {where} above {source.get('above')} per {source.get('interval')}",
    }
