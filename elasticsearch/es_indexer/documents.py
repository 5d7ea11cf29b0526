"""Pure pieces of the index: its mapping, document ids and bulk actions."""

from __future__ import annotations

import hashlib
from datetime import datetime
from json.encoder import encode_basestring as _json_string
from typing import Any, Iterable, Iterator

from pydantic_core import to_json

from pipeline_common.contracts import Aggregate, CountDocument, Interval
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


def _id(label: str, source: str, interval: str, start_iso: str) -> str:
    # The key is the compact JSON array of the four (so ("a b", "c") and ("a", "b c") stay
    # apart), written string by string with json's own C function: the very text of
    # json.dumps([...], ensure_ascii=False, separators=(",", ":")), without its encoder.
    key = "[" + ",".join((_json_string(label), _json_string(source), _json_string(interval), _json_string(start_iso)))
    return hashlib.sha1((key + "]").encode("utf-8")).hexdigest()


def document_id(aggregate: Aggregate) -> str:
    """Stable id of one (label, source, interval, bucket): a newer run's count for the
    same bucket replaces the older one instead of adding to it."""
    return _id(aggregate.label, aggregate.source, aggregate.interval.value, to_iso(aggregate.bucket_start))


def documents(aggregates: Iterable[Aggregate], run_id: str, indexed_at: datetime) -> Iterator[tuple[str, dict]]:
    """(`_id`, `_source`) of each aggregate's count document.

    The aggregates are already checked (parsing them is validation), so a document is not
    built and checked again field by field: the run's own fields are, once, through the
    contract (`CountDocument`), and each document copies them next to its aggregate's."""
    run_fields = _run_fields(run_id, indexed_at)
    for aggregate in aggregates:
        start = to_iso(aggregate.bucket_start)
        interval = aggregate.interval.value
        yield (
            _id(aggregate.label, aggregate.source, interval, start),
            {
                "label": aggregate.label,
                "source": aggregate.source,
                "interval": interval,
                "bucket_start": start,
                "detections": aggregate.detections,
                "images": aggregate.images,
                **run_fields,
            },
        )


def _run_fields(run_id: str, indexed_at: datetime) -> dict[str, Any]:
    """The fields every document of a run shares, checked by the document's contract."""
    sample = CountDocument("-", "-", Interval.DAY, indexed_at, 0, 0, run_id, indexed_at).to_source()
    return {name: sample[name] for name in ("run_id", "indexed_at")}


def actions(aggregates: Iterable[Aggregate], index: str, run_id: str, indexed_at: datetime) -> Iterator[dict[str, Any]]:
    """One bulk `index` action per aggregate, `_source` as a dict."""
    for doc_id, source in documents(aggregates, run_id, indexed_at):
        yield {"_op_type": "index", "_index": index, "_id": doc_id, "_source": source}


def encoded_actions(
    aggregates: Iterable[Aggregate], index: str, run_id: str, indexed_at: datetime
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The same actions as the bulk helper sends them (its `expand_action` pair): the action
    line, and `_source` already JSON (compact UTF-8, as the helper writes it). The indexer
    makes them in its reader thread, so the bulk requests only pass the bytes on
    (`index.bulk_index` takes such pairs as they are)."""
    for doc_id, source in documents(aggregates, run_id, indexed_at):
        yield {"index": {"_index": index, "_id": doc_id}}, to_json(source)
