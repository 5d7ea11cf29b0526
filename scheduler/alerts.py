"""The alert rules, checked on the batch index after each run: a deployment with no live
indexer still gets its alerts, and counts that arrive only through a batch run (a backfill,
images the live indexer never saw) are checked too.

A run rewrites every bucket of its interval, so "new data" is told apart by comparing: the
rules' breached buckets are read before the run and again, on the run's own documents,
after it; a bucket that breaches after the run and did not before is a new breach. (A rule
added today does not fire for last year's buckets on the next run; a backfill that pushes
an old bucket over the threshold does.) The breach test and the recording are those of the
live indexer (`pipeline_common.alerts`), with the same alert id per (rule, bucket): a
breach both see fires once, whichever sees it first.

Counts of a finer interval roll up into a rule's coarser one (hour documents into a day
rule); a rule finer than the run's interval (a minute rule on hour documents) cannot be
checked on the batch index and is left to the live indexer.

The "before" snapshot is kept in the run's record (`to_pending`) until the check is done,
so a run whose scheduler died or was stopped after its indexer started is checked by the
run after it (`BatchAlerts.recheck`), against what breached before it, not after it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from elasticsearch import Elasticsearch, NotFoundError

from pipeline_common.alerts import ensure_indices, fire, load_rules
from pipeline_common.contracts import Interval
from pipeline_common.contracts.alerts import ANY_SOURCE, Alert, Rule
from pipeline_common.timestamps import from_epoch_millis, utc_now

log = logging.getLogger(__name__)

PAGE = 1000
CALENDAR = {Interval.MINUTE: "1m", Interval.HOUR: "1h", Interval.DAY: "1d"}

# (rule id, interval of the batch documents, bucket start of the rule's interval)
Key = tuple[str, str, datetime]


def finer_or_equal(interval: Interval) -> list[str]:
    """The stored intervals whose buckets roll up into `interval`'s."""
    return [i.value for i in Interval if i.length <= interval.length]


def breach_body(candidate: Rule, run_id: str | None = None, after: dict | None = None) -> dict[str, Any]:
    """One page of the rule's counts per (stored interval, bucket of the rule's interval)
    in the batch index; only the given run's documents when `run_id` is set."""
    filters: list[dict[str, Any]] = [
        {"term": {"label": candidate.label}},
        {"terms": {"interval": finer_or_equal(candidate.interval)}},
    ]
    if candidate.source != ANY_SOURCE:
        filters.append({"term": {"source": candidate.source}})
    if run_id is not None:
        filters.append({"term": {"run_id": run_id}})
    composite: dict[str, Any] = {
        "size": PAGE,
        "sources": [
            {"interval": {"terms": {"field": "interval"}}},
            {
                "bucket": {
                    "date_histogram": {
                        "field": "bucket_start",
                        "calendar_interval": CALENDAR[candidate.interval],
                        "time_zone": "UTC",
                    }
                }
            },
        ],
    }
    if after is not None:
        composite["after"] = after
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": filters}},
        "aggs": {"buckets": {"composite": composite, "aggs": {"count": {"sum": {"field": "detections"}}}}},
    }


def _pages(es: Elasticsearch, index: str, candidate: Rule, run_id: str | None) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        try:  # not ignore_unavailable: an index this account may not read would look empty
            answer = es.search(index=index, **breach_body(candidate, run_id, after))
        except NotFoundError:
            return  # no batch run indexed yet
        found = answer["aggregations"]["buckets"]
        yield from found["buckets"]
        after = found.get("after_key")
        if after is None or len(found["buckets"]) < PAGE:
            return


def breached(
    es: Elasticsearch, index: str, rules: list[Rule], run_id: str | None = None
) -> dict[Key, tuple[Rule, int]]:
    """Every breached (rule, stored interval, bucket) in the batch index, with its count."""
    found: dict[Key, tuple[Rule, int]] = {}
    for candidate in rules:
        for bucket in _pages(es, index, candidate, run_id):
            count = int(bucket["count"]["value"] or 0)
            if candidate.breached_by(count):
                start = from_epoch_millis(bucket["key"]["bucket"])
                found[(candidate.rule_id, bucket["key"]["interval"], start)] = (candidate, count)
    return found


def new_breaches(before: dict[Key, Any], after: dict[Key, tuple[Rule, int]]) -> list[Alert]:
    """The breaches after the run that were not breaches before it (pure)."""
    return [
        Alert(candidate, start, count)
        for (rule_id, interval, start), (candidate, count) in sorted(after.items(), key=lambda item: item[0][::-1])
        if (rule_id, interval, start) not in before
    ]


@dataclass
class Snapshot:
    """The rules, and their breached buckets in the batch index, before a run (with their
    rule and count; None when read back from a run record, where only the keys are kept)."""

    rules: list[Rule]
    breached: dict[Key, tuple[Rule, int] | None] = field(default_factory=dict)


def to_pending(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as a run record keeps it until its check is done: the rules' ids and,
    per (rule, stored interval), the breached buckets' starts in epoch seconds (pure)."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for rule_id, interval, start in snapshot.breached:
        grouped.setdefault((rule_id, interval), []).append(int(start.timestamp()))
    return {
        "rules": sorted(candidate.rule_id for candidate in snapshot.rules),
        "breached": [[rule_id, interval, sorted(starts)] for (rule_id, interval), starts in sorted(grouped.items())],
    }


def from_pending(pending: dict[str, Any], rules: list[Rule]) -> Snapshot:
    """The snapshot `to_pending` kept, with today's rules that existed then (a rule added
    since would take every old breach of the run's buckets for a new one) (pure)."""
    then = set(pending.get("rules") or ())
    before: dict[Key, tuple[Rule, int] | None] = {
        (rule_id, interval, datetime.fromtimestamp(start, tz=timezone.utc)): None
        for rule_id, interval, starts in pending.get("breached") or ()
        for start in starts
    }
    return Snapshot([candidate for candidate in rules if candidate.rule_id in then], before)


@dataclass
class BatchAlerts:
    """Checks the rules on what a batch run indexed (see the module's description)."""

    es: Any
    batch_index: str
    rules_index: str
    alerts_index: str
    webhook_url: str | None = None
    clock: Callable[[], datetime] = utc_now

    def before_run(self) -> Snapshot:
        rules = load_rules(self.es, self.rules_index)
        return Snapshot(rules, breached(self.es, self.batch_index, rules) if rules else {})

    def after_run(self, snapshot: Snapshot, run_id: str) -> dict[str, int]:
        """Fire the new breaches of `run_id`'s documents; what the run record keeps."""
        summary = {"rules": len(snapshot.rules), "new_breaches": 0, "fired": 0}
        if not snapshot.rules:
            return summary
        ensure_indices(self.es, None, self.alerts_index)
        found = new_breaches(snapshot.breached, breached(self.es, self.batch_index, snapshot.rules, run_id))
        summary["new_breaches"] = len(found)
        now = self.clock()
        summary["fired"] = sum(fire(self.es, self.alerts_index, alert, now, self.webhook_url) for alert in found)
        if found:
            log.info(
                "run %s: %d new breach(es) of the alert rules, %d alert(s) fired (the others had fired already)",
                run_id,
                len(found),
                summary["fired"],
            )
        return summary

    def recheck(self, pending: dict[str, Any], run_id: str) -> dict[str, int]:
        """The check a run did not get to (its scheduler died or was stopped after its
        indexer started): `run_id`'s documents against the snapshot its record kept."""
        return self.after_run(from_pending(pending, load_rules(self.es, self.rules_index)), run_id)
