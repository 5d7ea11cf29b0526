"""API request latency for Prometheus (served on FRONTEND_METRICS_PORT by `count-dashboard`).

Under gunicorn with several worker processes each worker counts on its own: set
PROMETHEUS_MULTIPROC_DIR and serve prometheus_client's multiprocess collector instead
(see simple_frontend/README.md)."""

from __future__ import annotations

import time

from flask import Flask, g, request
from prometheus_client import Histogram

REQUEST_SECONDS = Histogram(
    "pipeline_api_request_seconds",
    "Time to answer an API or dashboard request",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def register(app: Flask) -> None:
    @app.before_request
    def started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observed(response):
        started_at = g.pop("metrics_started", None)
        if started_at is not None:
            # the route's pattern, never the raw path: unknown paths must not grow the label set
            endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            REQUEST_SECONDS.labels(endpoint, request.method, str(response.status_code)).observe(
                time.perf_counter() - started_at
            )
        return response


_REPEATED: dict[str, object] = {}  # route -> its histogram child: labels() costs more than observe()


def observe_repeat(rule: str, seconds: float) -> None:
    """An answer repeated before Flask routed it (cache.RepeatedRequests), under its route."""
    child = _REPEATED.get(rule)
    if child is None:
        child = _REPEATED[rule] = REQUEST_SECONDS.labels(rule, "GET", "200")
    child.observe(seconds)
