"""Pure pieces of the index: its mapping, document ids and bulk actions."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable, Iterator

from pipeline_common.contracts import Aggregate, CountDocument
from pipeline_common.contracts.count_index import FIELD_TYPES, INDEX_BODY  # noqa: F401 (the index's definition)
from pipeline_common.timestamps import to_iso


def mapping_problems(properties: dict[str, Any]) -> list[str]:
    """How an existing index's mapping differs from the one the indexer writes."""
    problems = []
    for name, kind in FIELD_TYPES.items():
        found = properties.get(name, {}).get("type")
        if found != kind:
            problems.append(f"{name}: expected {kind}, found {found or 'nothing'}")
    return problems


# one encoder for every id: JSON keeps ("a b", "c") and ("a", "b c") apart
_encode_key = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _id(label: str, source: str, interval: str, start_iso: str) -> str:
    return hashlib.sha1(_encode_key([label, source, interval, start_iso]).encode("utf-8")).hexdigest()


def document_id(aggregate: Aggregate) -> str:
    """Stable id of one (label, source, interval, bucket): a newer run's count for the
    same bucket replaces the older one instead of adding to it."""
    return _id(aggregate.label, aggregate.source, aggregate.interval.value, to_iso(aggregate.bucket_start))


def actions(aggregates: Iterable[Aggregate], index: str, run_id: str, indexed_at: datetime) -> Iterator[dict[str, Any]]:
    for aggregate in aggregates:
        source = CountDocument.of(aggregate, run_id, indexed_at).to_source()
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": _id(source["label"], source["source"], source["interval"], source["bucket_start"]),
            "_source": source,
        }
