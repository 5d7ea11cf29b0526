"""The live indices' mapping: documents carry the boxes to draw, and an index made by an
older live indexer (without those fields in its strict mapping) gets them added."""

from datetime import datetime, timezone

from es_live.index import add_new_fields
from pipeline_common.contracts import DetectionEvent, live_index
from pipeline_common.contracts.detection_event import DetectedObject

PREFIX = "object-counts-live-"
AT = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)


class Indices:
    def __init__(self, mappings):
        self.mappings, self.put = mappings, []

    def get_mapping(self, index, **options):
        return {name: {"mappings": {"properties": properties}} for name, properties in self.mappings.items()}

    def put_mapping(self, index, properties):
        self.put.append((index, properties))
        self.mappings[index].update(properties)


class Client:
    def __init__(self, mappings):
        self.indices = Indices(mappings)


def test_a_document_holds_the_boxes_when_the_event_has_them():
    event = DetectionEvent(
        "a" * 32,
        "cam",
        AT,
        AT,
        "m",
        {"dog": 1},
        width=64,
        height=48,
        objects=(DetectedObject("dog", 0.8, (1, 2, 3, 4)),),
    )
    document = live_index.document(event, AT)
    assert document["objects"] == [{"label": "dog", "score": 0.8, "box": [1, 2, 3, 4]}]
    assert (document["width"], document["height"]) == (64, 48)
    assert set(document) <= set(live_index.MAPPINGS["properties"])
    older = live_index.document(DetectionEvent("a" * 32, "cam", AT, AT, "m", {"dog": 1}), AT)
    assert "objects" not in older and "width" not in older


def test_older_live_indices_get_the_new_fields_once():
    old = {
        name: spec
        for name, spec in live_index.MAPPINGS["properties"].items()
        if name not in live_index.ADDED_PROPERTIES
    }
    client = Client(
        {
            f"{PREFIX}2026.11.27": dict(old),
            f"{PREFIX}2026.11.28": dict(live_index.MAPPINGS["properties"]),
            f"{PREFIX}not-a-day": dict(old),
        }
    )
    assert add_new_fields(client, PREFIX) == [f"{PREFIX}2026.11.27"]
    assert client.indices.put == [(f"{PREFIX}2026.11.27", live_index.ADDED_PROPERTIES)]
    assert add_new_fields(client, PREFIX) == []  # nothing left to add: no write at all
