"""The Elasticsearch index of object counts: written by the indexer, read by the API.

One document per (label, source, interval, bucket_start): the fields of an `Aggregate`
plus the run that produced it and when it was indexed. The mapping is derived from the
document's declaration, so the two cannot drift apart."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, ClassVar, get_type_hints

from ._model import Part, contract
from .aggregate import Aggregate, IntervalName
from .field_types import Count, Text, UtcTime


@dataclasses.dataclass(frozen=True)
class EsType:
    """The Elasticsearch field type of a document field."""

    name: str


@contract
class CountDocument(Part):
    WHAT: ClassVar[str] = "count document"

    label: Annotated[Text, EsType("keyword")]
    source: Annotated[Text, EsType("keyword")]
    interval: Annotated[IntervalName, EsType("keyword")]
    bucket_start: Annotated[UtcTime, EsType("date")]
    detections: Annotated[Count, EsType("long")]
    images: Annotated[Count, EsType("long")]
    run_id: Annotated[Text, EsType("keyword")]
    indexed_at: Annotated[UtcTime, EsType("date")]

    @classmethod
    def of(cls, aggregate: Aggregate, run_id: str, indexed_at: datetime) -> "CountDocument":
        return cls(
            aggregate.label,
            aggregate.source,
            aggregate.interval,
            aggregate.bucket_start,
            aggregate.detections,
            aggregate.images,
            run_id,
            indexed_at,
        )

    def to_source(self) -> dict[str, Any]:
        """The document's `_source`."""
        return self.to_dict()


def _es_types(cls: type) -> dict[str, str]:
    hints = get_type_hints(cls, include_extras=True)
    types = {}
    for field in dataclasses.fields(cls):
        marks = [m for m in getattr(hints[field.name], "__metadata__", ()) if isinstance(m, EsType)]
        types[field.name] = marks[-1].name
    return types


FIELD_TYPES = _es_types(CountDocument)

INDEX_BODY: dict[str, Any] = {
    "settings": {"number_of_shards": 1},
    # strict: a document with a field not listed here is an error, not a new field
    "mappings": {
        "dynamic": "strict",
        "properties": {name: {"type": kind} for name, kind in FIELD_TYPES.items()},
    },
}
