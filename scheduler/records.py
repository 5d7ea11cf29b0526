"""Run records in Elasticsearch (the contract is `pipeline_common.contracts.batch_runs`)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import AuthorizationException, Elasticsearch, NotFoundError

from pipeline_common.contracts import batch_runs
from pipeline_common.lease import ensure_index
from pipeline_common.timestamps import parse_iso, to_iso

log = logging.getLogger(__name__)


@dataclass
class RunRecord:
    kind: str
    trigger: str
    scheduled_for: datetime
    runner: str
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str = batch_runs.RUNNING
    reason: str = ""
    aggregation: dict[str, Any] = field(default_factory=dict)
    indexer: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)  # rules checked, new breaches, alerts fired; or error

    def document(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("scheduled_for", "started_at", "finished_at"):
            data[name] = to_iso(data[name]) if data[name] else None
        if self.started_at and self.finished_at:
            data["duration_s"] = round((self.finished_at - self.started_at).total_seconds(), 3)
        return {k: v for k, v in data.items() if v not in (None, "", {})}


class RunRecords:
    def __init__(self, es: Elasticsearch, index: str):
        self.es, self.index = es, index
        self.unmapped: frozenset[str] = frozenset()  # fields the index cannot take (left out of records)

    def ensure_index(self) -> None:
        ensure_index(self.es, self.index, batch_runs.MAPPINGS, batch_runs.SETTINGS)
        # an index made before a field was added gets it (adding fields only: no rewrite)
        try:
            self.es.indices.put_mapping(index=self.index, properties=batch_runs.MAPPINGS["properties"])
        except AuthorizationException as error:
            mapped = self.es.indices.get_mapping(index=self.index)
            properties = next(iter(mapped.body.values()))["mappings"].get("properties", {})
            self.unmapped = frozenset(batch_runs.MAPPINGS["properties"]) - set(properties)
            if self.unmapped:
                log.warning(
                    "%s lacks the field(s) %s and this account may not add them (%s): records are written "
                    "without them; grant the scheduler's role indices:admin/mapping/put (local_services/accounts.py)",
                    self.index,
                    ", ".join(sorted(self.unmapped)),
                    error.message,
                )

    def write(self, record: RunRecord) -> None:
        document = {k: v for k, v in record.document().items() if k not in self.unmapped}
        self.es.index(index=self.index, id=record.record_id, document=document, refresh="wait_for")

    def _newest(self, body: dict) -> dict[str, Any] | None:
        try:
            hits = self.es.search(index=self.index, **body)["hits"]["hits"]
        except NotFoundError:
            return None
        return hits[0]["_source"] if hits else None

    def last(self, kinds: tuple[str, ...] = (batch_runs.INCREMENTAL, batch_runs.FULL)) -> dict[str, Any] | None:
        """The newest record of a run that did (or tried to do) the work."""
        return self._newest(batch_runs.last_run_body(kinds=kinds))

    def done_since(self, kinds: tuple[str, ...], moment: datetime) -> dict[str, Any] | None:
        """A successful run of one of `kinds` that started at or after `moment`."""
        body = batch_runs.last_run_body(kinds=kinds, outcomes=(batch_runs.SUCCESS,))
        body["query"]["bool"]["filter"].append({"range": {"started_at": {"gte": to_iso(moment)}}})
        return self._newest(body)

    def mark_abandoned(self, record_id: str, by: str) -> None:
        """A run whose scheduler vanished (its lease expired and was taken over)."""
        try:
            found = self.es.get(index=self.index, id=record_id)
        except NotFoundError:
            return
        source = found["_source"]
        if source.get("outcome") != batch_runs.RUNNING:
            return
        source.update(
            outcome=batch_runs.ABANDONED, reason=f"its scheduler stopped renewing the lock; taken over by {by}"
        )
        self._rewrite(record_id, source, found)

    def set_alerts(self, record_id: str, alerts: dict[str, Any]) -> None:
        """Another run's alert check, made late (by the run after it)."""
        try:
            found = self.es.get(index=self.index, id=record_id)
        except NotFoundError:
            return
        self._rewrite(record_id, {**found["_source"], "alerts": alerts}, found)

    def _rewrite(self, record_id: str, source: dict[str, Any], found) -> None:
        """Writes `source` over the version `found` read (ConflictError if it changed since)."""
        self.es.index(
            index=self.index,
            id=record_id,
            document=source,
            refresh="wait_for",
            if_seq_no=found["_seq_no"],
            if_primary_term=found["_primary_term"],
        )

    def recent(self, size: int = 10) -> list[dict[str, Any]]:
        try:
            hits = self.es.search(
                index=self.index, size=size, sort=[{"started_at": {"order": "desc", "missing": "_first"}}]
            )
        except NotFoundError:
            return []
        return [hit["_source"] for hit in hits["hits"]["hits"]]


def served_time(source: dict[str, Any] | None) -> datetime | None:
    """The fire time a recorded run served (its scheduled time, else its start)."""
    if not source:
        return None
    moment = source.get("scheduled_for") or source.get("started_at")
    return parse_iso(moment) if moment else None
