"""Alerts: rules "label L at source S above N per interval" (stored in Elasticsearch), checked
by the live indexer on the buckets its new images fall in, fired once per rule and bucket,
optionally posted to a webhook (off unless ALERT_WEBHOOK_URL is set). The scheduler checks
the same rules on the batch index after each run; what both share (loading the rules,
recording an alert once, the webhook) is in `pipeline_common.alerts`.

The check runs a moment after the batch was written (`AlertWatch.delay_s`), so the batches
written meanwhile are checked together; it refreshes the live indices first, so every image
written before it is counted, and the counts come from the live indices with the same
nested aggregation the dashboard uses.

    python -m es_live.alerts add --label person --source cam-a --above 10 --interval minute
    python -m es_live.alerts list
    python -m es_live.alerts remove <rule id>
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from elasticsearch import Elasticsearch, NotFoundError

from pipeline_common.alerts import ensure_indices, fire, load_rules
from pipeline_common.contracts import ContractError, Interval
from pipeline_common.contracts.alerts import ANY_SOURCE, Alert, Rule, bucket_of, rule
from pipeline_common.contracts.live_index import FIELDS, NESTED_PATH
from pipeline_common.timestamps import to_iso, utc_now

log = logging.getLogger(__name__)


def touched(rules: Iterable[Rule], documents: Iterable[dict[str, Any]]) -> set[tuple[Rule, datetime]]:
    """(rule, bucket start) of every rule a new live document's counts fall under."""
    found = set()
    rules = list(rules)
    for document in documents:
        for count in document.get(NESTED_PATH, ()):
            for candidate in rules:
                if candidate.matches(count["label"], count["source"]):
                    found.add((candidate, bucket_of(count["captured_at"], candidate.interval)))
    return found


def count_body(candidate: Rule, start: datetime) -> dict[str, Any]:
    """The rule's count in one bucket, over the live indices (nested counts, like the API)."""
    end = start + candidate.interval.length
    clauses: list[dict[str, Any]] = [
        {"term": {FIELDS["label"]: candidate.label}},
        {"range": {FIELDS["time"]: {"gte": to_iso(start), "lt": to_iso(end)}}},
    ]
    root: list[dict[str, Any]] = [{"range": {"captured_at": {"gte": to_iso(start), "lt": to_iso(end)}}}]
    if candidate.source != ANY_SOURCE:
        clauses.append({"term": {FIELDS["source"]: candidate.source}})
        root.append({"term": {"source": candidate.source}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": root}},
        "aggs": {
            "live": {
                "nested": {"path": NESTED_PATH},
                "aggs": {
                    "in": {
                        "filter": {"bool": {"filter": clauses}},
                        "aggs": {"count": {"sum": {"field": FIELDS["detections"]}}},
                    }
                },
            }
        },
    }


def breaches(es: Elasticsearch, live_pattern: str, pending: Iterable[tuple[Rule, datetime]]) -> list[Alert]:
    """The pending (rule, bucket)s whose count is above the rule's threshold (one msearch)."""
    pending = sorted(pending, key=lambda item: (item[0].rule_id, item[1]))
    if not pending:
        return []
    # What was written before this check is counted, however late the periodic refresh
    # runs on a busy node: a bucket counted before its images are searchable would be
    # taken for no breach and never looked at again.
    es.indices.refresh(index=live_pattern, ignore_unavailable=True, allow_no_indices=True)
    searches: list[dict[str, Any]] = []
    for candidate, start in pending:
        searches += [
            {"index": live_pattern, "ignore_unavailable": True, "allow_no_indices": True},
            count_body(candidate, start),
        ]
    answers = es.msearch(searches=searches)["responses"]
    found = []
    for (candidate, start), answer in zip(pending, answers, strict=True):
        if "error" in answer:
            raise RuntimeError(f"counting {candidate.describe()} at {to_iso(start)} failed: {answer['error']}")
        value = int(answer["aggregations"]["live"]["in"]["count"]["value"] or 0)
        if candidate.breached_by(value):
            found.append(Alert(candidate, start, value))
    return found


@dataclass
class AlertWatch:
    """Collects the buckets new images fall in and checks the rules on them `delay_s`
    after they were written. Rules are reloaded every `rules_ttl_s`."""

    es: Any
    live_pattern: str
    rules_index: str
    alerts_index: str
    webhook_url: str | None = None
    delay_s: float = 2.0
    rules_ttl_s: float = 30.0
    clock: Callable[[], datetime] = utc_now
    timer: Callable[[], float] = time.monotonic
    fired: int = 0
    _rules: list[Rule] = field(default_factory=list)
    _rules_until: float = float("-inf")
    _pending: set[tuple[Rule, datetime]] = field(default_factory=set)
    _due: float | None = None

    def rules(self) -> list[Rule]:
        if self.timer() >= self._rules_until:
            self._rules = load_rules(self.es, self.rules_index)
            self._rules_until = self.timer() + self.rules_ttl_s
        return self._rules

    def written(self, documents: Iterable[dict[str, Any]]) -> None:
        """Live documents just acknowledged by Elasticsearch."""
        new = touched(self.rules(), documents)
        if new:
            self._pending |= new
            if self._due is None:
                self._due = self.timer() + self.delay_s

    def check(self, force: bool = False) -> int:
        """Check the pending buckets once they are due; the alerts fired."""
        if not self._pending or (not force and (self._due is None or self.timer() < self._due)):
            return 0
        pending, self._pending, self._due = self._pending, set(), None
        try:
            found = breaches(self.es, self.live_pattern, pending)
        except Exception:
            self._pending |= pending  # asked again at the next check: no breach is missed
            self._due = self.timer() + self.delay_s
            raise
        fired = sum(fire(self.es, self.alerts_index, alert, self.clock(), self.webhook_url) for alert in found)
        self.fired += fired
        return fired


# --- the rules, for operators ------------------------------------------------------------------


def rule_id(text: str) -> str:
    """A rule id as `Rule.rule_id` makes them; anything else is refused before it reaches a request."""
    if not re.fullmatch(r"[0-9a-f]{20}", text):
        raise argparse.ArgumentTypeError(f"expected 20 hexadecimal digits, as `list` shows; got {text[:40]!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    from pipeline_common.clients import elasticsearch_client
    from pipeline_common.environment import SettingsError
    from pipeline_common.logs import configure_logging
    from pipeline_common.settings import ElasticsearchSettings

    parser = argparse.ArgumentParser(
        prog="python -m es_live.alerts",
        description=(
            "Manage alert rules (label L at source S above N per interval), stored in ES_ALERT_RULES_INDEX; "
            "the live indexer checks them on new images. Uses the administrator account (ES_USERNAME)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a rule (adding the same rule again changes nothing)")
    add.add_argument("--label", required=True)
    add.add_argument("--source", default=ANY_SOURCE, help="a source, or * for any (default)")
    add.add_argument("--above", type=int, required=True, help="fires when the count is above this")
    add.add_argument("--interval", default="minute", choices=[i.value for i in Interval])
    commands.add_parser("list", help="list the rules")
    remove = commands.add_parser("remove", help="remove a rule by its id")
    remove.add_argument("rule_id", type=rule_id, help="as `list` shows it (20 hexadecimal digits)")
    args = parser.parse_args(argv)
    configure_logging(False)
    try:
        settings = ElasticsearchSettings.from_env()
    except SettingsError as error:
        log.error("configuration error: %s", error)
        return 2
    with elasticsearch_client(settings) as es:
        ensure_indices(es, settings.alert_rules_index, settings.alerts_index)
        if args.command == "add":
            try:
                new = rule(args.label, args.source, args.interval, args.above)
            except ContractError as error:
                log.error("%s", error)
                return 2
            es.index(
                index=settings.alert_rules_index, id=new.rule_id, document=new.to_source(utc_now()), refresh="wait_for"
            )
            print(f"{new.rule_id}  {new.describe()}")
        elif args.command == "list":
            for found in load_rules(es, settings.alert_rules_index):
                print(f"{found.rule_id}  {found.describe()}")
        else:
            try:
                es.delete(index=settings.alert_rules_index, id=args.rule_id, refresh="wait_for")
            except NotFoundError:
                log.error("no rule %s in %s", args.rule_id, settings.alert_rules_index)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
