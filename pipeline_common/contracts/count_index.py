"""The Elasticsearch index of object counts: written by the indexer, read by the API.

One document per (label, source, interval, bucket_start), the fields of an `Aggregate`
plus the run that produced it and when it was indexed."""
from __future__ import annotations

from typing import Any

FIELD_TYPES = {
    "label": "keyword",
    "source": "keyword",
    "interval": "keyword",
    "bucket_start": "date",
    "detections": "long",
    "images": "long",
    "run_id": "keyword",
    "indexed_at": "date",
}

INDEX_BODY: dict[str, Any] = {
    "settings": {"number_of_shards": 1},
    # strict: a document with a field not listed here is an error, not a new field
    "mappings": {
        "dynamic": "strict",
        "properties": {name: {"type": kind} for name, kind in FIELD_TYPES.items()},
    },
}
