"""The scheduler's Prometheus metrics (served by pipeline_common.metrics, SCHEDULER_METRICS_PORT).

Alert on `time() - pipeline_batch_last_success_timestamp_seconds` growing past the schedule."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge

from pipeline_common.contracts import batch_runs
from pipeline_common.timestamps import parse_iso

LAST_SUCCESS = Gauge(
    "pipeline_batch_last_success_timestamp_seconds", "When the last successful batch run finished (Unix time)", ["kind"]
)
LAST_DURATION = Gauge(
    "pipeline_batch_last_success_duration_seconds", "How long the last successful batch run took", ["kind"]
)
RUNS = Counter("pipeline_batch_runs", "Batch runs this scheduler attempted, by outcome", ["kind", "outcome"])


def observe(kind: str, outcome: str, started_at, finished_at) -> None:
    RUNS.labels(kind, outcome).inc()
    if outcome == batch_runs.SUCCESS and started_at is not None and finished_at is not None:
        LAST_SUCCESS.labels(kind).set(finished_at.timestamp())
        LAST_DURATION.labels(kind).set((finished_at - started_at).total_seconds())


def seed(source: dict[str, Any] | None) -> None:
    """At start: the last successful run any scheduler recorded, so a restart does not look
    like a pipeline that never ran."""
    if not source or not source.get("started_at") or not source.get("finished_at"):
        return
    started, finished = parse_iso(source["started_at"]), parse_iso(source["finished_at"])
    kind = source.get("kind", batch_runs.INCREMENTAL)
    LAST_SUCCESS.labels(kind).set(finished.timestamp())
    LAST_DURATION.labels(kind).set((finished - started).total_seconds())
