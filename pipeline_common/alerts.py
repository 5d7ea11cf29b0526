"""Alerts, the part both checkers share: the live indexer (on the live indices, seconds after
images arrive) and the scheduler (on the batch index, after each run) read the same rules,
decide a breach the same way (`Rule.breached_by`) and record it the same way (`fire`): one
alert document per (rule, bucket), created with `op_type=create`, so whichever checker sees
a breach first records it and the other finds it there and does nothing.

The rules and alerts themselves are contracts (`contracts/alerts.py`); this module holds
the Elasticsearch side and the optional webhook (ALERT_WEBHOOK_URL, off unless set)."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError
from prometheus_client import Counter
from pydantic import Field

from .contracts import ContractError
from .contracts.alerts import ALERTS_MAPPING, RULES_MAPPING, Alert, Rule, rule_from_source
from .environment import Settings
from .timestamps import to_iso

log = logging.getLogger(__name__)
ALERTS_FIRED = Counter("pipeline_alerts_fired", "Alerts fired (once per rule and bucket)")
WEBHOOK_FAILURES = Counter("pipeline_alert_webhook_failures", "Alerts whose webhook could not be delivered")
MAX_RULES = 1000


class AlertSettings(Settings):
    """What every checker of the rules (live indexer, scheduler) needs besides its account."""

    webhook_url: str = Field(
        "",
        alias="ALERT_WEBHOOK_URL",
        pattern=r"^(https?://\S+)?$",
        description="Where fired alerts are POSTed as JSON (http(s)://...), by the live indexer and the "
        "scheduler; empty: no webhook (the dashboard still lists them).",
    )


def load_rules(es: Elasticsearch, index: str) -> list[Rule]:
    """Every rule in the rules index (none when it does not exist); a malformed one is
    logged and left out. An account that may not read it gets AuthorizationException, not
    "no rules" (what `ignore_unavailable` would answer for an index it may not see)."""
    try:
        response = es.search(index=index, size=MAX_RULES, query={"match_all": {}})
    except NotFoundError:
        return []
    rules = []
    for hit in response["hits"]["hits"]:
        try:
            rules.append(rule_from_source(hit["_source"]))
        except ContractError as error:
            log.error("alert rule %s in %s is malformed and never checked: %s", hit["_id"], index, error)
    return rules


def post_webhook(url: str, alert: Alert, timeout_s: float = 5.0, attempts: int = 3) -> str:
    """POST the alert as JSON; "sent", or "failed: <why>" after `attempts` tries."""
    body = json.dumps(alert.message()).encode()
    reason = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                if 200 <= answer.status < 300:
                    return "sent"
                reason = f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code}"
            if 400 <= error.code < 500 and error.code != 429:
                break  # the receiver refuses it: asking again would not help
        except (urllib.error.URLError, OSError) as error:
            reason = str(getattr(error, "reason", error))
        time.sleep(0.5 * 2**attempt)
    WEBHOOK_FAILURES.inc()
    return f"failed: {reason}"[:200]


def fire(es: Elasticsearch, alerts_index: str, alert: Alert, now: datetime, webhook_url: str | None) -> bool:
    """Store the alert unless it already fired (False then); post it to the webhook if set.
    The document is created before the webhook is called, so a receiver never hears of one
    breach twice; the webhook's outcome is recorded on it."""
    try:
        es.create(
            index=alerts_index,
            id=alert.alert_id,
            document=alert.to_source(now, "off" if not webhook_url else "pending"),
        )  # no waiting for a refresh: `create` sees every alert by id at once, the list follows within 1 s
    except ConflictError:
        return False
    ALERTS_FIRED.inc()
    log.warning(
        "ALERT %s: %d in the %s from %s",
        alert.rule.describe(),
        alert.count,
        alert.rule.interval.value,
        to_iso(alert.bucket_start),
    )
    if webhook_url:
        outcome = post_webhook(webhook_url, alert)
        if outcome != "sent":
            log.error("alert %s: webhook %s", alert.alert_id, outcome)
        es.update(index=alerts_index, id=alert.alert_id, doc={"webhook": outcome})
    return True


def ensure_indices(es: Elasticsearch, rules_index: str | None, alerts_index: str | None) -> None:
    """Create the rules index and/or the alerts index with their mappings if missing."""
    for name, mapping in ((rules_index, RULES_MAPPING), (alerts_index, ALERTS_MAPPING)):
        if name is not None and not es.indices.exists(index=name):
            try:
                es.indices.create(
                    index=name, mappings=mapping, settings={"number_of_shards": 1, "number_of_replicas": 0}
                )
            except ApiError as error:
                if error.error != "resource_already_exists_exception":
                    raise
