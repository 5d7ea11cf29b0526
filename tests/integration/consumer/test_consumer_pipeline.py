"""The consumer against the real Kafka and S3: real photos in, one metadata record each out."""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter

from consumer.app import run_consumer
from consumer.loop import RunLimits
from pipeline_common.contracts import metadata_key

from .conftest import photo_variants

EXPECTED = {
    "dog.jpg": {"dog", "bicycle"},
    "person.jpg": {"person", "dog"},
    "horses.jpg": {"horse"},
    "eagle.jpg": {"bird"},
    "kite.jpg": {"kite", "person"},
    "giraffe.jpg": {"giraffe", "zebra"},
}
YOLOV4_TINY_WEIGHTS_SHA256 = "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"


def test_every_announced_photo_gets_exactly_one_metadata_record(
    upload, announce, run_inline, metadata, group_lag, dead_letters, detection_events, bucket
):
    photos = photo_variants(7, salt="pipeline")
    announcements = [(name, upload(data, source=f"cam-{n % 2}")) for n, (name, data) in enumerate(photos)]
    announce([a.to_json_bytes() for _, a in announcements])

    summary = run_inline()

    records = metadata()
    assert set(records) == {metadata_key(a.image_id) for _, a in announcements}
    for name, announcement in announcements:
        record = records[metadata_key(announcement.image_id)]
        labels = {d.label for d in record.detections}
        assert EXPECTED.get(name, set()) <= labels, (name, labels)
        assert record.image_path == announcement.image_path == f"s3://{bucket}/images/{announcement.image_id}.jpg"
        assert record.source == announcement.source
        assert record.captured_at == announcement.captured_at.replace(
            microsecond=announcement.captured_at.microsecond // 1000 * 1000
        )
        assert (record.width, record.height) == (announcement.width, announcement.height)
        assert record.model.name == "yolov4-tiny" and record.model.input_size == 416
        assert record.model.files_sha256["weights"] == YOLOV4_TINY_WEIGHTS_SHA256
        assert record.model.runtime.startswith("opencv-dnn ")
        assert {"download", "decode", "inference", "total"} <= set(record.timings_ms)
        for detection in record.detections:
            x, y, w, h = detection.box
            assert 0 <= x and 0 <= y and x + w <= record.width and y + h <= record.height
    scream = records[metadata_key(announcements[6][1].image_id)]
    assert len(scream.detections) <= 1  # a painting: nothing (or next to nothing) to find
    assert summary.processed == 7 and summary.dead_lettered == 0
    assert dead_letters(timeout_s=2) == []
    assert group_lag() == 0
    # each image's detection event is on its topic and counts what its record holds
    events = {event.image_id: event for event in detection_events()}
    assert set(events) == {a.image_id for _, a in announcements}
    for _key, record in records.items():
        event = events[record.image_id]
        assert event.counts == dict(Counter(d.label for d in record.detections))
        assert (event.source, event.captured_at, event.model) == (record.source, record.captured_at, record.model.name)


def test_announcing_an_image_again_overwrites_its_record(upload, announce, run_inline, metadata, group_lag):
    name, data = photo_variants(1, salt="again")[0]
    announcement = upload(data)
    announce([announcement.to_json_bytes()])
    run_inline()
    first = metadata()[metadata_key(announcement.image_id)]

    announce([announcement.to_json_bytes()])
    run_inline()

    records = metadata()
    assert list(records) == [metadata_key(announcement.image_id)]
    second = records[metadata_key(announcement.image_id)]
    assert second.processed_at > first.processed_at
    assert Counter(d.label for d in second.detections) == Counter(d.label for d in first.detections)
    assert group_lag() == 0


class _StopOnRetry(logging.Handler):
    """Asks the consumer to stop as soon as it starts retrying (the outage was noticed)."""

    def __init__(self, stop: threading.Event):
        super().__init__(logging.WARNING)
        self.stop, self.retries = stop, 0

    def emit(self, record: logging.LogRecord) -> None:
        self.retries += 1
        self.stop.set()


def test_s3_outage_is_retried_not_dead_lettered_and_not_committed(
    upload, announce, settings, shared_detector, dead_letters, group_lag, metadata, run_inline
):
    announcements = [upload(data) for _, data in photo_variants(3, salt="outage")]
    announce([a.to_json_bytes() for a in announcements])
    with socket.socket() as probe:  # a port nothing listens on: S3 is down
        probe.bind(("127.0.0.1", 0))
        down = settings.replace(s3=settings.s3.replace(endpoint_url=f"http://127.0.0.1:{probe.getsockname()[1]}"))
    stop = threading.Event()
    watcher = _StopOnRetry(stop)
    logging.getLogger("consumer.retry").addHandler(watcher)
    try:
        summary = run_consumer(down, RunLimits(), stop, detector=shared_detector)
    finally:
        logging.getLogger("consumer.retry").removeHandler(watcher)

    assert watcher.retries >= 1
    assert summary.processed == 0 and summary.dead_lettered == 0 and summary.handed_back >= 1
    assert dead_letters(timeout_s=2) == []
    assert group_lag() == 3  # nothing committed: the messages wait for S3 to come back

    run_inline()  # S3 is back

    assert set(metadata()) == {metadata_key(a.image_id) for a in announcements}
    assert group_lag() == 0
