"""The live indices: one document per processed image, written by the live indexer
from detection events, read by the API for the time after the batch watermark.

Indices are per UTC capture day, `<prefix>YYYY.MM.DD` (default prefix
`object-counts-live-`), so old days are dropped whole by age. Each document's id is the
image id: a redelivered event overwrites the same document and never counts twice.

Counts per label are a `nested` list whose entries also carry the image's source and
capture time, so plain aggregations (nested -> filter -> terms / date_histogram -> sum)
add them up exactly like the batch documents; no script is needed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from ..timestamps import to_iso
from .detection_event import DetectionEvent

DEFAULT_PREFIX = "object-counts-live-"
DATE_FORMAT = "%Y.%m.%d"
_DATE_SUFFIX = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")

# Paths of the fields a count query reads, the live counterparts of the batch fields.
NESTED_PATH = "counts"
FIELDS = {
    "time": "counts.captured_at",
    "label": "counts.label",
    "source": "counts.source",
    "detections": "counts.detections",
    "images": "counts.images",
}

COUNT_PROPERTIES = {
    "label": {"type": "keyword"},
    "source": {"type": "keyword"},
    "captured_at": {"type": "date"},
    "detections": {"type": "long"},
    "images": {"type": "long"},  # 1: this image contains the label
}

# Fields added after the first live indices were made: the live indexer adds them to the
# mapping of an existing index that lacks them (es_live.index.ensure_template), since a
# strict mapping refuses a document with a field it does not list. A document written
# before them reads with none.
ADDED_PROPERTIES: dict[str, Any] = {
    # the image's size and its detections (label, score, box): kept in _source for the
    # dashboard to draw, neither searched nor aggregated
    "width": {"type": "long", "index": False},
    "height": {"type": "long", "index": False},
    "objects": {"type": "object", "enabled": False},
}

MAPPINGS: dict[str, Any] = {
    # strict: a document with a field not listed here is an error, not a new field
    "dynamic": "strict",
    "properties": {
        "image_id": {"type": "keyword"},
        "source": {"type": "keyword"},
        "captured_at": {"type": "date"},
        "processed_at": {"type": "date"},
        "indexed_at": {"type": "date"},
        "model": {"type": "keyword"},
        "detections": {"type": "long"},
        NESTED_PATH: {"type": "nested", "properties": COUNT_PROPERTIES},
        **ADDED_PROPERTIES,
    },
}

SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"}


def index_pattern(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}*"


def index_name(prefix: str, captured_at: datetime) -> str:
    """The live index an image belongs to: its UTC capture day."""
    return prefix + captured_at.astimezone(timezone.utc).strftime(DATE_FORMAT)


def index_day(prefix: str, name: str) -> date | None:
    """The day a live index holds, or None for a name that is not one of ours."""
    if not name.startswith(prefix):
        return None
    match = _DATE_SUFFIX.match(name[len(prefix) :])
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def document(event: DetectionEvent, indexed_at: datetime) -> dict[str, Any]:
    captured = to_iso(event.captured_at)
    return {
        "image_id": event.image_id,
        "source": event.source,
        "captured_at": captured,
        "processed_at": to_iso(event.processed_at),
        "indexed_at": to_iso(indexed_at),
        "model": event.model,
        "detections": event.detections,
        NESTED_PATH: [
            {"label": label, "source": event.source, "captured_at": captured, "detections": n, "images": 1}
            for label, n in sorted(event.counts.items())
        ],
        # left out when the event did not carry them: the gallery then says "not recorded"
        **({} if event.width is None else {"width": event.width}),
        **({} if event.height is None else {"height": event.height}),
        **({} if event.objects is None else {"objects": [obj.to_dict() for obj in event.objects]}),
    }
