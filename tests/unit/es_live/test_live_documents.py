"""Pure pieces of the live indexer: documents, batches, retention."""

from datetime import date, datetime, timedelta, timezone

from es_live.documents import expired_indices, plan_batch
from pipeline_common.contracts import live_index
from pipeline_common.contracts.dead_letter import OriginalMessage

from .conftest import NOW, event_bytes

PREFIX = "object-counts-live-"


def message(value, offset, partition=0):
    return OriginalMessage("detections", partition, offset, b"k", value)


def test_one_document_per_image_in_the_index_of_its_capture_day():
    batch = plan_batch([message(event_bytes(1, person=3, dog=1), 7)], PREFIX, NOW.date(), 7, NOW)
    (((index, doc_id), action),) = batch.actions.items()
    assert index == "object-counts-live-2026.11.28" and doc_id == f"{1:032x}"
    source = action["_source"]
    assert source["detections"] == 4
    assert source["counts"] == [
        {"label": "dog", "source": "cam-1", "captured_at": "2026-11-28T12:00:00.000Z", "detections": 1, "images": 1},
        {"label": "person", "source": "cam-1", "captured_at": "2026-11-28T12:00:00.000Z", "detections": 3, "images": 1},
    ]
    assert batch.positions == {("detections", 0): 8}


def test_a_capture_day_is_utc():
    late_evening = datetime(2026, 11, 28, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert live_index.index_name(PREFIX, late_evening) == "object-counts-live-2026.11.29"


def test_a_redelivered_event_in_the_same_batch_is_one_document():
    batch = plan_batch([message(event_bytes(1), 3), message(event_bytes(1), 4)], PREFIX, NOW.date(), 7, NOW)
    assert batch.size == 1
    assert [m.offset for m in next(iter(batch.sources.values()))] == [3, 4]


def test_malformed_events_are_kept_for_the_dead_letter_topic_and_still_move_the_offset():
    batch = plan_batch([message(b"{oops", 0), message(event_bytes(2), 1, partition=1)], PREFIX, NOW.date(), 7, NOW)
    ((bad, reason),) = batch.malformed
    assert bad.offset == 0 and "not valid JSON" in reason
    assert batch.positions == {("detections", 0): 1, ("detections", 1): 2}


def test_events_captured_before_the_retention_window_are_left_to_the_batch_view():
    old = NOW - timedelta(days=7)  # 7 days kept: 11-22 .. 11-28
    kept = NOW - timedelta(days=6)
    batch = plan_batch([message(event_bytes(1, old), 0), message(event_bytes(2, kept), 1)], PREFIX, NOW.date(), 7, NOW)
    assert [m.offset for m in batch.expired] == [0]
    assert [index for index, _ in batch.actions] == ["object-counts-live-2026.11.22"]


def test_expired_indices_are_those_before_the_window_and_only_ours():
    names = [
        PREFIX + "2026.11.21",
        PREFIX + "2026.11.22",
        PREFIX + "2026.11.28",
        PREFIX + "2026.12.01",
        PREFIX + "notes",
        PREFIX + "2026.13.01",
        "other-2020.01.01",
    ]
    assert expired_indices(names, PREFIX, date(2026, 11, 28), 7) == [PREFIX + "2026.11.21"]
    assert live_index.index_day(PREFIX, PREFIX + "2026.02.30") is None
