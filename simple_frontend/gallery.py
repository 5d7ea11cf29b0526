"""The gallery's listing, as pure functions: its parameters, the live-index search that
answers it, and the answer's shape. No Flask, no I/O.

Images come from the live indices (one document per image, written by the live
indexer), newest capture first, so the gallery reaches as far back as those keep
(LIVE_RETENTION_DAYS). Each image carries what the detector found: label, score and
box (pixels of the `width` x `height` original), drawn by the browser. A document
written before detections were stored in it says `"detections": null`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from pipeline_common.contracts import live_index
from pipeline_common.contracts.s3_layout import IMAGE_ID_PATTERN
from pipeline_common.timestamps import to_iso

from .params import ParamError, TimeRange, check_names, parse_names, parse_range, shown

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
LISTING_PARAMS = frozenset({"from", "to", "source", "label", "limit", "after"})
# where the next page starts: the last image's capture time (epoch ms) and id
CURSOR = re.compile(r"(?P<millis>[0-9]{1,15})_(?P<image_id>[0-9a-f]{16,64})")
SOURCE_FIELDS = [
    "image_id",
    "source",
    "captured_at",
    "model",
    "detections",
    "width",
    "height",
    "objects",
    live_index.NESTED_PATH,
]


@dataclass(frozen=True)
class ImageQuery:
    time_range: TimeRange | None  # None: every image the live indices hold
    sources: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # images holding at least one of them
    limit: int = DEFAULT_LIMIT
    after: tuple[int, str] | None = None  # (capture epoch ms, image id) of the previous page's last image


def check_image_id(text: str) -> str:
    """An image id as the pipeline makes them (16-64 lowercase hex characters); anything
    else, a path or a key included, is a ParamError, so no S3 key is ever built from it."""
    if not IMAGE_ID_PATTERN.fullmatch(text):
        raise ParamError(f"image id: expected 16-64 lowercase hex characters; got {shown(text)}")
    return text


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise ParamError(f"limit: expected a whole number from 1 to {MAX_LIMIT}; got {shown(text)}")
    return int(text)


def parse_cursor(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    match = CURSOR.fullmatch(text)
    if not match:
        raise ParamError(f"after: expected the `next` value of a previous answer; got {shown(text)}")
    return int(match["millis"]), match["image_id"]


def cursor(hit_sort: Sequence[Any]) -> str:
    millis, image_id = hit_sort
    return f"{int(millis)}_{image_id}"


def parse_image_query(args: Mapping[str, Sequence[str]], now: datetime) -> ImageQuery:
    """`from`/`to` are taken exactly (no widening to buckets): a chart bucket's images
    are asked for with that bucket's start and end."""
    check_names(args, LISTING_PARAMS)

    def one(key: str) -> str | None:
        values = args.get(key)
        return values[0] if values else None

    return ImageQuery(
        time_range=parse_range(one("from"), one("to"), now, defaults=False),
        sources=parse_names(args.get("source", ()), "source"),
        labels=parse_names(args.get("label", ()), "label"),
        limit=parse_limit(one("limit")),
        after=parse_cursor(one("after")),
    )


def listing_body(query: ImageQuery) -> dict[str, Any]:
    """The live-index search: values only as term values and dates, never query syntax."""
    filters: list[dict[str, Any]] = []
    if query.time_range is not None:
        filters.append(
            {
                "range": {
                    "captured_at": {
                        "gte": to_iso(query.time_range.start),
                        "lt": to_iso(query.time_range.end),
                        "format": "strict_date_optional_time",
                    }
                }
            }
        )
    if query.sources:
        filters.append({"terms": {"source": list(query.sources)}})
    if query.labels:
        filters.append(
            {
                "nested": {
                    "path": live_index.NESTED_PATH,
                    "query": {"terms": {live_index.FIELDS["label"]: list(query.labels)}},
                }
            }
        )
    body: dict[str, Any] = {
        "size": query.limit,
        "query": {"bool": {"filter": filters}},
        "sort": [{"captured_at": {"order": "desc"}}, {"image_id": {"order": "desc"}}],
        "_source": SOURCE_FIELDS,
        "track_total_hits": 10_000,
    }
    if query.after is not None:
        body["search_after"] = list(query.after)
    return body


def image_entry(source: Mapping[str, Any]) -> dict[str, Any]:
    """One image of the answer, from its live document."""
    image_id = source["image_id"]
    counts = {entry["label"]: entry["detections"] for entry in source.get(live_index.NESTED_PATH) or ()}
    objects = source.get("objects")
    # documents written before detections were kept: the counts are known, the boxes not
    detections = (
        None
        if objects is None or (not objects and counts)
        else [{"label": o["label"], "score": o["score"], "box": o["box"]} for o in objects]
    )
    return {
        "id": image_id,
        "source": source["source"],
        "captured_at": source["captured_at"],
        "model": source.get("model"),
        "width": source.get("width") or None,
        "height": source.get("height") or None,
        "counts": counts,
        "detections": detections,
        "thumbnail": f"/api/images/{image_id}/thumbnail",
        "full": f"/api/images/{image_id}/full",
    }


def listing_answer(response: Mapping[str, Any], query: ImageQuery) -> dict[str, Any]:
    hits = response["hits"]["hits"]
    total = response["hits"].get("total") or {"value": len(hits), "relation": "eq"}
    full_page = len(hits) == query.limit
    return {
        "from": to_iso(query.time_range.start) if query.time_range else None,
        "to": to_iso(query.time_range.end) if query.time_range else None,
        "total": total["value"],
        "total_is_exact": total["relation"] == "eq",
        "images": [image_entry(hit["_source"]) for hit in hits],
        "next": cursor(hits[-1]["sort"]) if full_page and hits else None,
    }
