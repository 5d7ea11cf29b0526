"""Alert rules and fired alerts, as stored in Elasticsearch: written by an operator
(`python -m es_live.alerts add ...`), the live indexer and the scheduler, read by those
and the dashboard's API.

A rule: "label L at source S (or any source) above N detections per interval". It fires
at most once per (rule, bucket): the alert's document id is made of both, and it is
created with `op_type=create`, so a second evaluation of the same bucket (a redelivered
batch, a restarted indexer, two indexers, the scheduler after the live indexer or the
other way round) finds it there and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from ..timestamps import parse_iso, to_iso
from .aggregate import Interval, bucket_start
from .errors import ContractError
from .field_types import MAX_NAME_LENGTH

DEFAULT_RULES_INDEX = "pipeline-alert-rules"
DEFAULT_ALERTS_INDEX = "pipeline-alerts"
ANY_SOURCE = "*"
MAX_ABOVE = 10**15  # a count stored as an Elasticsearch long, far above any real one
_NAME = re.compile(r"\w(?:[\w .:/()+,@#-]*[\w)])?")

# What a rule says, in a rule and in each alert it fired.
_RULE_FIELDS: dict[str, Any] = {
    "label": {"type": "keyword"},
    "source": {"type": "keyword"},
    "interval": {"type": "keyword"},
    "above": {"type": "long"},
}
RULES_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {**_RULE_FIELDS, "created_at": {"type": "date"}},
}
ALERTS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "rule_id": {"type": "keyword"},
        **_RULE_FIELDS,
        "bucket_start": {"type": "date"},
        "count": {"type": "long"},
        "fired_at": {"type": "date"},
        "webhook": {"type": "keyword"},  # off, sent, failed: <reason>
    },
}


@dataclass(frozen=True)
class Rule:
    label: str
    source: str  # a source name, or ANY_SOURCE
    interval: Interval
    above: int

    @property
    def rule_id(self) -> str:
        """The same rule always has the same id: adding it twice stores it once."""
        key = json.dumps([self.label, self.source, self.interval.value, self.above], ensure_ascii=False)
        return hashlib.sha1(key.encode()).hexdigest()[:20]

    def breached_by(self, count: int) -> bool:
        """A bucket with `count` detections breaches the rule: the one test every checker uses."""
        return count > self.above

    def matches(self, label: str, source: str) -> bool:
        return label == self.label and self.source in (ANY_SOURCE, source)

    def describe(self) -> str:
        where = "any source" if self.source == ANY_SOURCE else self.source
        return f"{self.label} at {where} above {self.above} per {self.interval.value}"

    def fields(self) -> dict[str, Any]:
        """What the rule says, as a rule's document, an alert's and a webhook's message hold it."""
        return {"label": self.label, "source": self.source, "interval": self.interval.value, "above": self.above}

    def to_source(self, created_at: datetime) -> dict[str, Any]:
        return {**self.fields(), "created_at": to_iso(created_at)}


def rule(label: str, source: str, interval: str, above: Any) -> Rule:
    """A checked rule; raises ContractError saying what is wrong."""
    for name, value in (("label", label), ("source", source)):
        if isinstance(value, str) and len(value) > MAX_NAME_LENGTH:
            raise ContractError(
                f"alert rule {name}: at most {MAX_NAME_LENGTH} characters; got {len(value)}", field=name
            )
        if not isinstance(value, str) or not (value == ANY_SOURCE and name == "source" or _NAME.fullmatch(value)):
            raise ContractError(
                f"alert rule {name}: expected a name of letters, digits, spaces and _ . : / ( ) "
                f"+ , @ # -{' (or * for any)' if name == 'source' else ''}; got {value!r}",
                field=name,
            )
    if isinstance(above, bool) or not isinstance(above, int) or not 0 <= above <= MAX_ABOVE:
        raise ContractError(
            f"alert rule above: expected a whole number from 0 to {MAX_ABOVE}; got {str(above)[:40]!r}", field="above"
        )
    return Rule(label, source, Interval.parse(interval), above)


def rule_from_source(source: Mapping[str, Any]) -> Rule:
    return rule(source.get("label"), source.get("source"), source.get("interval"), source.get("above"))


@dataclass(frozen=True)
class Alert:
    rule: Rule
    bucket_start: datetime
    count: int

    @property
    def alert_id(self) -> str:
        """One per rule and bucket: what makes an alert fire once per breach."""
        return f"{self.rule.rule_id}-{self.bucket_start.strftime('%Y%m%dT%H%MZ')}"

    def to_source(self, fired_at: datetime, webhook: str) -> dict[str, Any]:
        return {
            "rule_id": self.rule.rule_id,
            **self.rule.fields(),
            "bucket_start": to_iso(self.bucket_start),
            "count": self.count,
            "fired_at": to_iso(fired_at),
            "webhook": webhook,
        }

    def message(self) -> dict[str, Any]:
        """What a webhook receives (JSON)."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule.describe(),
            **self.rule.fields(),
            "bucket_start": to_iso(self.bucket_start),
            "count": self.count,
        }


def bucket_of(moment: datetime | str, interval: Interval) -> datetime:
    return bucket_start(parse_iso(moment) if isinstance(moment, str) else moment, interval)
