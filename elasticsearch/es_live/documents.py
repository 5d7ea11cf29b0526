"""Pure pieces of the live indexer: a batch of Kafka messages -> bulk actions, dead
letters and the offsets to commit; which live indices have aged out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from pipeline_common.contracts import ContractError, DetectionEvent, live_index, parse_detection_event
from pipeline_common.contracts.dead_letter import OriginalMessage


@dataclass
class Batch:
    # (index, image id) -> the bulk action: a redelivered event in the same batch
    # replaces the earlier one (one image's events share a partition, in order)
    actions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sources: dict[tuple[str, str], list[OriginalMessage]] = field(default_factory=dict)
    malformed: list[tuple[OriginalMessage, str]] = field(default_factory=list)
    expired: list[OriginalMessage] = field(default_factory=list)  # captured before the retention window
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset per partition

    @property
    def size(self) -> int:
        return len(self.actions)


def oldest_kept_day(today: date, retention_days: int) -> date:
    """The live indices keep `retention_days` capture days, today included."""
    return today - timedelta(days=retention_days - 1)


def action(event: DetectionEvent, prefix: str, indexed_at: datetime) -> dict[str, Any]:
    return {
        "_op_type": "index",
        "_index": live_index.index_name(prefix, event.captured_at),
        "_id": event.image_id,
        "_source": live_index.document(event, indexed_at),
    }


def plan_batch(
    messages: Iterable[OriginalMessage], prefix: str, today: date, retention_days: int, indexed_at: datetime
) -> Batch:
    batch = Batch()
    oldest = oldest_kept_day(today, retention_days)
    for message in messages:
        position = (message.topic, message.partition)
        batch.positions[position] = max(batch.positions.get(position, 0), message.offset + 1)
        try:
            event = parse_detection_event(message.value)
        except ContractError as error:
            batch.malformed.append((message, str(error)))
            continue
        if event.captured_at.date() < oldest:
            batch.expired.append(message)
            continue
        item = action(event, prefix, indexed_at)
        key = (item["_index"], item["_id"])
        batch.actions[key] = item
        batch.sources.setdefault(key, []).append(message)
    return batch


def expired_indices(names: Iterable[str], prefix: str, today: date, retention_days: int) -> list[str]:
    """Live indices whose capture day lies before the retention window; names that are
    not `<prefix>YYYY.MM.DD` are never touched."""
    oldest = oldest_kept_day(today, retention_days)
    expired = []
    for name in names:
        day = live_index.index_day(prefix, name)
        if day is not None and day < oldest:
            expired.append(name)
    return sorted(expired)
