"""Records of batch runs (aggregation, then indexer), one Elasticsearch document each:
written by the scheduler, read by the API's /api/health and the scheduler itself (to
catch up after downtime and to skip work another scheduler already did).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..timestamps import parse_iso

DEFAULT_INDEX = "pipeline-batch-runs"

# what a run did
RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
SKIPPED = "skipped"  # another run held the lock, or the work was already done
INTERRUPTED = "interrupted"  # the scheduler was stopped meanwhile
ABANDONED = "abandoned"  # its scheduler vanished; another one took the lock over
OUTCOMES = (RUNNING, SUCCESS, FAILED, SKIPPED, INTERRUPTED, ABANDONED)

# what a run was asked to do
INCREMENTAL = "incremental"
FULL = "full"

_STEP = {"type": "object", "dynamic": False, "properties": {"exit_code": {"type": "integer"}}}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "record_id": {"type": "keyword"},
        "run_id": {"type": "keyword"},  # the aggregation run id (its S3 folder), when it ran
        "kind": {"type": "keyword"},  # incremental | full
        "trigger": {"type": "keyword"},  # schedule | catch-up | manual
        "scheduled_for": {"type": "date"},
        "started_at": {"type": "date"},
        "finished_at": {"type": "date"},
        "duration_s": {"type": "float"},
        "outcome": {"type": "keyword"},
        "reason": {"type": "text"},
        "runner": {"type": "keyword"},  # host:pid of the scheduler
        "aggregation": _STEP,  # the aggregation's summary (mode, objects listed / read, ...)
        "indexer": _STEP,  # the indexer's summary (documents created, updated, deleted, ...)
        "alerts": {"type": "object", "dynamic": False},  # rules checked, new breaches, alerts fired (or error)
    },
}
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}


def last_run_body(*, kinds: tuple[str, ...] = (INCREMENTAL, FULL), outcomes: tuple[str, ...] | None = None) -> dict:
    """Search body for the newest run that did (or tried to do) the work: skipped
    records are left out unless asked for."""
    filters: list[dict] = [{"terms": {"kind": list(kinds)}}]
    if outcomes is not None:
        filters.append({"terms": {"outcome": list(outcomes)}})
    return {
        "size": 1,
        "query": {"bool": {"filter": filters, "must_not": [] if outcomes else [{"term": {"outcome": SKIPPED}}]}},
        "sort": [{"started_at": {"order": "desc"}}],
    }


def describe(source: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What /api/health shows of a run record: its main fields and its age (seconds
    since it finished, or since it started while it runs)."""
    shown = {
        name: source.get(name)
        for name in (
            "run_id",
            "kind",
            "trigger",
            "outcome",
            "started_at",
            "finished_at",
            "duration_s",
            "runner",
            "reason",
        )
    }
    aggregation = source.get("aggregation") or {}
    for name in ("mode", "objects_listed", "objects_read"):
        if name in aggregation:
            shown[name] = aggregation[name]
    moment = source.get("finished_at") or source.get("started_at")
    shown["age_s"] = round((now - parse_iso(moment)).total_seconds(), 1) if moment else None
    return {name: value for name, value in shown.items() if value not in (None, "")}
